/**
 * Helpers for the fault and durability tests: the real server as a child process (killed for real),
 * a seeded random source, reading a meeting's update log straight from the disk, and devices
 * (MeetingConnection, the page's own network module) that reconnect by themselves.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as Y from 'yjs';
import { MeetingConnection } from '../../client/lib/connection.js';
import type { Admission } from '../../shared/protocol.js';
import { VOICE_LOG, type VoiceEntry } from '../../shared/record.js';
import { decodeRecords } from '../../server/store/updateLog.js';
import type { DocUpdate } from '../../server/store/types.js';
import { onCleanup, until } from '../helpers.js';

export { freePort, spawnServer, type Child, type Exit } from '../child.js';

export const root = path.resolve(import.meta.dirname, '..', '..');

/** The tests' one seeded random source (mulberry32), shared with the fuzz test. */
export { prng } from '../prng.js';

/** A seed from the environment (to replay a run) or from the clock; always printed by the caller. */
export function seedFrom(envName: string): number {
  const env = process.env[envName];
  return env ? Number(env) >>> 0 : (Date.now() ^ (process.pid << 8)) >>> 0;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A participant's device: the page's own network module, reconnecting by itself with backoff. */
export function device(
  url: string,
  admission: Pick<Admission, 'meetingId' | 'personalToken'>,
  fast = true,
): MeetingConnection {
  const c = new MeetingConnection({
    url,
    meetingId: admission.meetingId,
    token: admission.personalToken,
    socket: {
      forceNew: true,
      transports: ['websocket'],
      ...(fast ? { reconnectionDelay: 100, reconnectionDelayMax: 500 } : {}),
    },
  });
  onCleanup(() => c.close());
  return c;
}

export async function connected(c: MeetingConnection, timeoutMs = 20_000): Promise<MeetingConnection> {
  await until(() => c.me !== null && c.status === 'connected', 'connected', timeoutMs);
  return c;
}

export function logFile(dataDir: string, meetingId: string): string {
  return path.join(dataDir, 'meetings', `${meetingId}.ylog`);
}

/** The records of a meeting's log as they are on the disk (read only; a torn tail is skipped). */
export function readLog(
  dataDir: string,
  meetingId: string,
): { updates: DocUpdate[]; bytes: number; validLength: number } {
  const file = logFile(dataDir, meetingId);
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { updates: [], bytes: 0, validLength: 0 };
    throw e;
  }
  const { updates, validLength } = decodeRecords(buf, file);
  return { updates, bytes: buf.length, validLength };
}

/** Every document of a meeting rebuilt from the records on disk. */
export function docsOnDisk(updates: readonly DocUpdate[]): Map<string, Y.Doc> {
  const byDoc = new Map<string, Uint8Array[]>();
  for (const u of updates) {
    const list = byDoc.get(u.doc) ?? [];
    list.push(u.update);
    byDoc.set(u.doc, list);
  }
  const docs = new Map<string, Y.Doc>();
  for (const [id, list] of byDoc) {
    const d = new Y.Doc({ gc: false });
    Y.applyUpdate(d, Y.mergeUpdates(list));
    docs.set(id, d);
  }
  return docs;
}

/** The texts of every `say` entry stored on disk, by voice. */
export function saidOnDisk(dataDir: string, meetingId: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [id, d] of docsOnDisk(readLog(dataDir, meetingId).updates)) {
    if (id === 'meeting') continue;
    const texts = d
      .getArray<VoiceEntry>(VOICE_LOG)
      .toArray()
      .flatMap((e) => (e.t === 'say' ? [e.text] : []));
    out.set(id, texts);
  }
  return out;
}

/** The texts of every `say` entry a connection holds for a voice. */
export function said(c: MeetingConnection, voice: string): string[] {
  return c.log(voice).flatMap((e) => (e.t === 'say' ? [e.text] : []));
}

/** Same state vector of every voice document on every connection (and the same set of voices). */
export function voicesConverged(conns: readonly MeetingConnection[], voices: readonly string[]): boolean {
  for (const v of voices) {
    let ref: string | null = null;
    for (const c of conns) {
      const d = c.voices.get(v);
      if (!d) return false;
      const sv = Buffer.from(Y.encodeStateVector(d)).toString('base64');
      if (ref === null) ref = sv;
      else if (sv !== ref) return false;
    }
  }
  return true;
}

/** Run a command, resolving with its exit code and output (never throws). */
export async function run(cmd: string, args: readonly string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (b: Buffer) => (out += b.toString()));
    p.stderr.on('data', (b: Buffer) => (out += b.toString()));
    p.once('error', (e) => resolve({ code: -1, out: e.message }));
    p.once('exit', (code) => resolve({ code, out }));
  });
}

/** How many times each value occurs. */
export function countOf(list: readonly string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const x of list) m.set(x, (m.get(x) ?? 0) + 1);
  return m;
}

/** A participant writing unique markers; `acked` counts those shown as saved (a prefix of `written`). */
export interface Writer {
  admission: Admission;
  conn: MeetingConnection;
  tag: string;
  written: string[];
  acked: number;
  timer: NodeJS.Timeout | null;
}

/**
 * Participants who write markers (`<tag>-<n><suffix>`) steadily, each after `pause()` ms, on
 * devices connected to `url` (or `url(i)` for the i-th). A marker counts as acknowledged once its
 * writer's device showed "saved" at any moment after writing it.
 */
export function steadyWriters(
  admissions: readonly Admission[],
  url: string | ((i: number) => string),
  pause: () => number,
  suffix = '',
): { writers: Writer[]; start(): void; stop(): void } {
  const writers: Writer[] = admissions.map((admission, i) => ({
    admission,
    conn: device(typeof url === 'string' ? url : url(i), admission),
    tag: `w${i}`,
    written: [],
    acked: 0,
    timer: null,
  }));
  for (const w of writers) {
    w.conn.subscribe(() => {
      if (w.conn.me && w.conn.saved) w.acked = Math.max(w.acked, w.written.length);
    });
  }
  let writing = false;
  const schedule = (w: Writer) => {
    w.timer = setTimeout(() => {
      w.timer = null;
      if (!writing) return;
      const marker = `${w.tag}-${w.written.length}${suffix}`;
      w.conn.say(marker);
      w.written.push(marker);
      schedule(w);
    }, pause());
  };
  return {
    writers,
    start() {
      writing = true;
      for (const w of writers) if (!w.timer) schedule(w);
    },
    stop() {
      writing = false;
      for (const w of writers) {
        if (w.timer) clearTimeout(w.timer);
        w.timer = null;
      }
    },
  };
}
