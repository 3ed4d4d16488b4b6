/**
 * The HTTP API, typed. Every failure becomes an `ApiFailure` carrying only a code (the server
 * sends codes, never sentences for people); `messageOf` turns it into a sentence in the
 * interface language.
 *
 * Requests about a meeting may name which of this browser's people acts (`as`): a shared device
 * can hold several people of one meeting, and the server then answers for that one.
 */
import type { ApiError, JoinInput, OpenMeetingInput, ProfileInput } from '../../shared/protocol.js';
import { ROUTES, routePath, type AnswerOf, type BodyOf, type RouteName } from '../../shared/routes.js';
import { errorText, i18n } from '../i18n/index.svelte.js';

export class ApiFailure extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
  ) {
    super(code);
  }
}

interface CallOptions {
  /** The participant of this browser's session to act as (header `X-Polyphony-As`). */
  as?: string | null | undefined;
  /** A personal link's secret, for answers about that one person only (`Authorization: Bearer`). */
  token?: string | null | undefined;
}

async function call<T>(method: string, path: string, body?: unknown, opts: CallOptions = {}): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (opts.as) headers['x-polyphony-as'] = opts.as;
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiFailure('offline', 0);
  }
  const text = await res.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) {
    const err = data as Partial<ApiError> | null;
    throw new ApiFailure(typeof err?.error === 'string' ? err.error : 'internal', res.status);
  }
  return data as T;
}

const m = (meetingId: string) => `/api/meetings/${encodeURIComponent(meetingId)}`;

/** A call through the shared route table: its path, method, body and answer type come from there. */
function route<N extends RouteName>(
  name: N,
  args: { meetingId?: string; body?: BodyOf<N>; opts?: CallOptions } = {},
): Promise<AnswerOf<N>> {
  return call<AnswerOf<N>>(ROUTES[name].method, routePath(name, args.meetingId), args.body, args.opts);
}

export const api = {
  /** How this service keeps records (for the notice before joining and the erase dialog). */
  service: () => route('service'),
  open: (input: OpenMeetingInput = {}) => route('openMeeting', { body: input }),
  join: (meetingId: string, input: JoinInput) => route('join', { meetingId, body: input }),
  invitation: (meetingId: string, joinToken: string) => route('invitation', { meetingId, body: { joinToken } }),
  /** Which meeting a short code leads to. */
  code: (code: string) => route('code', { body: { code } }),
  session: (token: string) => route('session', { body: { token } }),
  /** My meetings: this browser's people, or (with `token`) one person's. Newest first. */
  me: (token?: string) => route('me', { opts: { token } }),
  /** A new personal link; the old one stops working everywhere. */
  revoke: (token?: string) => route('revoke', { body: {}, opts: { token } }),
  profile: (meetingId: string, patch: ProfileInput, as?: string | null) =>
    route('profile', { meetingId, body: patch, opts: { as } }),
  network: (meetingId: string, patch: { name?: string; firstContactAt?: number }, as?: string | null) =>
    route('network', { meetingId, body: patch, opts: { as } }),
  next: (meetingId: string, as?: string | null) => route('next', { meetingId, opts: { as } }),
  access: (meetingId: string, as?: string | null) => route('access', { meetingId, opts: { as } }),
  erasure: (meetingId: string, scope: 'mine' | 'record', as?: string | null) =>
    route('erasure', { meetingId, body: { scope }, opts: { as } }),
};

/**
 * Addresses of the downloads (plain links: the browser sends the session cookie). `as` names which
 * of this browser's people is asking, on a shared device (an id, not a secret).
 */
const asParam = (as?: string | null) => (as ? `as=${encodeURIComponent(as)}` : '');
const query = (...parts: string[]) => {
  const q = parts.filter(Boolean).join('&');
  return q ? `?${q}` : '';
};
export const downloads = {
  /** The text file, in the reader's language and time zone. */
  markdown: (meetingId: string, as?: string | null) =>
    `${m(meetingId)}/export.md${query(`tz=${encodeURIComponent(Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC')}`, `lang=${i18n.lang}`, asParam(as))}`,
  json: (meetingId: string, as?: string | null) => `${m(meetingId)}/export.json${query(asParam(as))}`,
  calendar: (meetingId: string, as?: string | null) =>
    `${m(meetingId)}/next.ics${query(`lang=${i18n.lang}`, asParam(as))}`,
};

/**
 * The sentence for any error, in the interface language: from its code only. A server's own
 * `message` (if any) is never shown to a person; an unknown code gets a calm generic sentence.
 */
export function messageOf(e: unknown): string {
  if (e instanceof ApiFailure) return errorText(e.code);
  const code = (e as { code?: unknown } | null)?.code;
  return errorText(typeof code === 'string' ? code : 'unknown');
}
