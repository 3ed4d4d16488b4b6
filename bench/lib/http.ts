/** Polyphony's HTTP API, as a script uses it: open a meeting, join it. */
import type { Admission } from '../../shared/protocol.js';

async function post<T>(url: string, body: unknown): Promise<T> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`POST ${new URL(url).pathname} → ${res.status} ${text.slice(0, 200)}`);
  return JSON.parse(text) as T;
}

export function openMeeting(base: string, name = 'Facilitator'): Promise<Admission> {
  return post<Admission>(`${base}/api/meetings`, { name, relation: 'psychologist' });
}

export function joinMeeting(
  base: string,
  meeting: Pick<Admission, 'meetingId' | 'joinToken'>,
  name: string,
): Promise<Admission> {
  return post<Admission>(`${base}/api/meetings/${meeting.meetingId}/join`, {
    joinToken: meeting.joinToken,
    name,
    relation: 'network',
  });
}
