/**
 * Who is asking: a participant of a meeting, identified by a personal-link secret (handshake
 * `auth.token` or `Authorization: Bearer`, for scripts) or by the browser's session cookie.
 * Every "no" looks the same, whatever the reason.
 */
import { hashToken, sessionToken } from './auth.js';
import type { ParticipantRecord, Store } from './store/types.js';
import { isId } from '../shared/ids.js';

export interface Credentials {
  /** A personal token given directly (Socket.IO handshake). */
  token?: string | undefined;
  cookie?: string | undefined;
  authorization?: string | undefined;
}

/** Personal-link hashes these credentials stand for. */
async function memberHashes(store: Store, creds: Credentials): Promise<string[]> {
  const bearer = /^Bearer ([A-Za-z0-9_-]{22})$/.exec(creds.authorization ?? '')?.[1];
  const token = creds.token ?? bearer;
  if (token) return isId(token) ? [hashToken(token)] : [];
  const session = sessionToken(creds.cookie);
  const record = session ? await store.session(hashToken(session)) : undefined;
  return record?.members ?? [];
}

/** Every live participant record these credentials admit to, across meetings. */
export async function participantsOf(store: Store, creds: Credentials): Promise<ParticipantRecord[]> {
  const out: ParticipantRecord[] = [];
  for (const hash of await memberHashes(store, creds)) {
    for (const p of await store.participantsByTokenHash(hash)) if (!p.revoked) out.push(p);
  }
  return out;
}

/**
 * The participant these credentials admit to `meetingId`, if any: the one named by `prefer` when
 * the session holds several people in the meeting (a shared device), else the latest to join.
 */
export async function participantIn(
  store: Store,
  meetingId: string,
  creds: Credentials,
  prefer?: string,
): Promise<ParticipantRecord | undefined> {
  if (!isId(meetingId)) return undefined;
  const here = (await participantsOf(store, creds)).filter((p) => p.meetingId === meetingId);
  if (prefer !== undefined) return here.find((p) => p.id === prefer);
  return here.sort((a, b) => b.joinedAt - a.joinedAt)[0];
}
