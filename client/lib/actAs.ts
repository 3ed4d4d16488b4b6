/**
 * Act as someone this device added (a person with no device of their own), on the shared device:
 * open a second connection authenticated with that person's own personal token, write into
 * *their* voice document (a confirmation, a correction, a position), wait until the server has
 * durably saved it, and close. Their words are then theirs, written from their own voice.
 */
import { ApiFailure } from './api.js';
import { MeetingConnection } from './connection.js';

function until(conn: MeetingConnection, cond: () => boolean, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    if (cond()) return resolve();
    const timer = setTimeout(() => {
      stop();
      reject(new ApiFailure('no-answer', 0));
    }, timeoutMs);
    const stop = conn.subscribe(() => {
      if (conn.status === 'refused') {
        clearTimeout(timer);
        stop();
        reject(new ApiFailure(conn.connectError?.code ?? 'no-access', 0));
      } else if (cond()) {
        clearTimeout(timer);
        stop();
        resolve();
      }
    });
  });
}

export async function actAs(
  meetingId: string,
  token: string,
  act: (conn: MeetingConnection) => void,
  timeoutMs = 20_000,
): Promise<void> {
  const conn = new MeetingConnection({ meetingId, token, socket: { forceNew: true } });
  try {
    await until(conn, () => conn.me !== null && conn.status === 'connected', timeoutMs);
    act(conn);
    await until(conn, () => conn.saved, timeoutMs);
  } finally {
    conn.close();
  }
}
