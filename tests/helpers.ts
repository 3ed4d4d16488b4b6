/**
 * Test factories: a real server through `createApp` on port 0 with its own data directory,
 * and real participants (HTTP + Socket.IO + Yjs) that clean up after themselves.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';
import { MeetingConnection } from '../client/lib/connection.js';
import type { Admission } from '../shared/protocol.js';
import { createApp, type App } from '../server/app.js';
import type { Config } from '../server/config.js';
import { silentLog, type Clock, type Log } from '../server/context.js';
import { LIMITS } from '../shared/limits.js';
import type { Store } from '../server/store/types.js';

export interface TestServer {
  app: App;
  url: string;
  dataDir: string;
  stop(): Promise<void>;
}

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

/** Run `fn` after this test file's tests (in reverse order of registration). */
export function onCleanup(fn: () => Promise<void> | void): void {
  cleanups.push(async () => {
    await fn();
  });
}

export async function tempDir(prefix = 'polyphony-test-'): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export async function startServer(
  opts: {
    dataDir?: string;
    config?: Partial<Config>;
    clientDir?: string | null;
    store?: Store;
    clock?: Clock;
    log?: Log;
  } = {},
): Promise<TestServer> {
  const dataDir = opts.dataDir ?? (await tempDir());
  const config: Config = {
    port: 0,
    host: '127.0.0.1',
    dataDir,
    publicUrl: 'http://127.0.0.1',
    clientDir: opts.clientDir === undefined ? null : opts.clientDir,
    trustProxy: 0,
    flushWindowMs: 2,
    rateLimits: false,
    recordBasis: 'consent',
    keepReason: 'This service keeps meeting records as part of the health-care record.',
    messagesPerSecond: LIMITS.messagesPerSecond,
    metricsPort: null,
    metricsToken: null,
    instance: 'test',
    logRequests: false,
    ...opts.config,
  };
  const app = await createApp({
    config,
    log: opts.log ?? silentLog,
    unloadAfterMs: 200,
    ...(opts.store ? { store: opts.store } : {}),
    ...(opts.clock ? { clock: opts.clock } : {}),
  });
  const url = await app.listen();
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await app.close();
  };
  cleanups.push(stop);
  return { app, url, dataDir, stop };
}

export async function api<T>(
  url: string,
  method: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: T; headers: Headers }> {
  const res = await fetch(url, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T, headers: res.headers };
}

export async function openMeeting(server: { url: string }, name = 'Facilitator'): Promise<Admission> {
  const r = await api<Admission>(`${server.url}/api/meetings`, 'POST', { name, relation: 'psychologist' });
  if (r.status !== 201) throw new Error(`open failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

export async function join(
  server: { url: string },
  admission: Pick<Admission, 'meetingId' | 'joinToken'>,
  name: string,
  relation = '',
  aboutMe = false,
): Promise<Admission> {
  const r = await api<Admission>(`${server.url}/api/meetings/${admission.meetingId}/join`, 'POST', {
    joinToken: admission.joinToken,
    name,
    relation,
    aboutMe,
  });
  if (r.status !== 201) throw new Error(`join failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/** A connected participant: a real MeetingConnection (the page's own network module). */
export async function connect(server: { url: string }, admission: Admission): Promise<MeetingConnection> {
  const c = new MeetingConnection({
    url: server.url,
    meetingId: admission.meetingId,
    token: admission.personalToken,
    socket: { forceNew: true, transports: ['websocket'] },
  });
  cleanups.push(async () => c.close());
  await until(() => c.me !== null && c.status === 'connected', 'connected');
  return c;
}

export async function joinAs(
  server: { url: string },
  meeting: Admission,
  name: string,
  relation = '',
): Promise<MeetingConnection> {
  return connect(server, await join(server, meeting, name, relation));
}

/**
 * Wait for a condition, checking on every event-loop turn (assert convergence, not timing).
 * `what` names the condition in the timeout error; a function is called then, to describe the state.
 */
export async function until(
  cond: () => boolean,
  what: string | (() => string) = 'condition',
  timeoutMs = 10_000,
): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs)
      throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** `until` for a condition that must be checked asynchronously (a file on disk, an HTTP answer). */
export async function untilAsync(
  cond: () => Promise<boolean>,
  what: string | (() => string) = 'condition',
  timeoutMs = 10_000,
): Promise<void> {
  const start = Date.now();
  while (!(await cond())) {
    if (Date.now() - start > timeoutMs)
      throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * Every connection holds the same state of every voice document and of the meeting document, and
 * the server has placed every entry (every item has its order mark): converged with the server.
 */
export function converged(conns: readonly MeetingConnection[]): boolean {
  const ref = conns[0];
  if (!ref) return true;
  const ids = new Set<string>();
  for (const c of conns) for (const id of c.voices.keys()) ids.add(id);
  for (const c of conns) {
    for (const id of ids) {
      const a = ref.voices.get(id);
      const b = c.voices.get(id);
      if (!a || !b || !sameState(a, b)) return false;
    }
    if (!sameState(ref.meetingDoc, c.meetingDoc)) return false;
    for (const item of c.record().byRef.values()) if (item.seq === null) return false;
  }
  return true;
}

import * as Y from 'yjs';
export function sameState(a: Y.Doc, b: Y.Doc): boolean {
  return Buffer.from(Y.encodeStateVector(a)).equals(Buffer.from(Y.encodeStateVector(b)));
}

/**
 * The server's copy of one of a meeting's documents (by id). A voice that holds nothing yet has no
 * document on the server: it reads as an empty one. Throws for anything that is no document of it.
 */
export function serverDoc(app: App, meetingId: string, id: string): Y.Doc {
  const m = app.meetings.peek(meetingId);
  if (!m) throw new Error(`meeting ${meetingId} is not loaded`);
  if (id === m.meetingDoc.guid) return m.meetingDoc;
  const doc = m.voiceDocs().get(id);
  if (doc) return doc;
  if (m.docAt(id) === undefined) throw new Error(`server has no document ${id}`);
  return new Y.Doc();
}

/** A document's whole encoded state (to compare "byte-identical before and after"). */
export function encoded(doc: Y.Doc | undefined): Buffer {
  if (!doc) throw new Error('no such document');
  return Buffer.from(Y.encodeStateAsUpdate(doc));
}

/** Same state vector and the same content of every root type. */
export function sameContent(a: Y.Doc, b: Y.Doc): boolean {
  if (!sameState(a, b)) return false;
  return JSON.stringify(a.getArray('log').toJSON()) === JSON.stringify(b.getArray('log').toJSON());
}

/**
 * The embedded store's record files (everything under `dataDir` but the meetings' update logs),
 * path → bytes: to check that something changed no stored record.
 */
export async function recordFiles(dataDir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dataDir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const rel = path.relative(dataDir, path.join(entry.parentPath, entry.name));
    if (rel.startsWith(`meetings${path.sep}`)) continue;
    out[rel] = (await readFile(path.join(dataDir, rel))).toString('base64');
  }
  return out;
}

/** The `Authorization` header of a personal link (scripts authenticate this way). */
export const bearer = (a: { personalToken: string }): Record<string, string> => ({
  authorization: `Bearer ${a.personalToken}`,
});

/** Every file under a directory, read whole (erasure must leave no trace anywhere in it). */
export async function everything(dir: string): Promise<string> {
  let out = '';
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out += (await readFile(path.join(entry.parentPath, entry.name))).toString('latin1');
  }
  return out;
}
