/**
 * The HTTP API as one table: method, path, body schema and answer type of every route. The server's
 * router is built from it and the page's client calls through it, so neither can drift.
 */
import type * as v from 'valibot';
import {
  CodeSchema,
  ErasureSchema,
  InvitationSchema,
  JoinSchema,
  NetworkSchema,
  OpenMeetingSchema,
  PersonSchema,
  ProfileSchema,
  SessionSchema,
  type AccessLogEntry,
  type Admission,
  type Opened,
  type ErasureResult,
  type Invitation,
  type MyMeeting,
  type NextMeetingOpened,
  type Revoked,
  type ServiceInfo,
} from './protocol.js';

export interface Route<B extends v.GenericSchema | null, A> {
  method: 'GET' | 'POST' | 'PATCH';
  /** Express-style path under /api; `:id` is a meeting id. */
  path: string;
  body: B;
  /** Phantom: the answer's type (never read at run time). */
  answer?: A;
}

const route = <A, B extends v.GenericSchema | null = null>(
  method: Route<B, A>['method'],
  path: string,
  body: B = null as B,
): Route<B, A> => ({ method, path, body });

export const ROUTES = {
  openMeeting: route<Opened, typeof OpenMeetingSchema>('POST', '/meetings', OpenMeetingSchema),
  join: route<Admission, typeof JoinSchema>('POST', '/meetings/:id/join', JoinSchema),
  invitation: route<Invitation, typeof InvitationSchema>('POST', '/meetings/:id/invitation', InvitationSchema),
  code: route<{ meetingId: string }, typeof CodeSchema>('POST', '/codes', CodeSchema),
  session: route<{ meetingId: string; participantId: string }, typeof SessionSchema>('POST', '/session', SessionSchema),
  me: route<{ meetings: MyMeeting[] }>('GET', '/me'),
  revoke: route<Revoked, typeof PersonSchema>('POST', '/me/revoke', PersonSchema),
  forget: route<{ ok: true }, typeof PersonSchema>('POST', '/me/forget', PersonSchema),
  service: route<ServiceInfo>('GET', '/service'),
  profile: route<{ ok: true }, typeof ProfileSchema>('PATCH', '/meetings/:id/me', ProfileSchema),
  network: route<{ ok: true }, typeof NetworkSchema>('PATCH', '/meetings/:id/network', NetworkSchema),
  next: route<NextMeetingOpened>('POST', '/meetings/:id/next'),
  access: route<{ log: AccessLogEntry[] }>('GET', '/meetings/:id/access'),
  erasure: route<ErasureResult, typeof ErasureSchema>('POST', '/meetings/:id/erasure', ErasureSchema),
} as const;
export type RouteName = keyof typeof ROUTES;
export type AnswerOf<N extends RouteName> = (typeof ROUTES)[N] extends Route<infer _B, infer A> ? A : never;
export type BodyOf<N extends RouteName> =
  (typeof ROUTES)[N] extends Route<infer B, unknown> ? (B extends v.GenericSchema ? v.InferInput<B> : never) : never;

/** The URL of a route for a meeting. */
export function routePath(name: RouteName, meetingId?: string): string {
  const p = ROUTES[name].path;
  return `/api${meetingId ? p.replace(':id', encodeURIComponent(meetingId)) : p}`;
}
