/**
 * The HTTP API, typed. Every failure becomes an `ApiFailure` whose message can be shown as it is:
 * the server's own plain words, or ours when the server could not be reached.
 */
import type {
  Admission,
  ApiError,
  JoinInput,
  MyMeeting,
  OpenMeetingInput,
  ProfileInput,
} from '../../shared/protocol.js';

export class ApiFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiFailure('offline', 'Could not reach Polyphony. Check your connection and try again.', 0);
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
    throw new ApiFailure(err?.error ?? 'internal', err?.message ?? 'Something went wrong. Try again.', res.status);
  }
  return data as T;
}

export const api = {
  open: (input: OpenMeetingInput = {}) => call<Admission>('POST', '/api/meetings', input),
  join: (meetingId: string, input: JoinInput) =>
    call<Admission>('POST', `/api/meetings/${encodeURIComponent(meetingId)}/join`, input),
  session: (token: string) => call<{ meetingId: string; participantId: string }>('POST', '/api/session', { token }),
  me: () => call<{ meetings: MyMeeting[] }>('GET', '/api/me'),
  profile: (meetingId: string, patch: ProfileInput) =>
    call<{ ok: true }>('PATCH', `/api/meetings/${encodeURIComponent(meetingId)}/me`, patch),
};

/** The message of any error, for showing. */
export function messageOf(e: unknown): string {
  return e instanceof Error && e.message ? e.message : 'Something went wrong. Try again.';
}
