/**
 * Hostile input, the basics (issue 5): malformed sync messages, oversized and invalid HTTP bodies,
 * prototype pollution, path traversal. Every bad input gets a clear refusal, changes nothing, and
 * an untouched "canary" meeting keeps working throughout.
 */
import { request } from 'node:http';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import type { MeetingConnection } from '../client/lib/connection.js';
import { randomId } from '../shared/ids.js';
import { LIMITS } from '../shared/limits.js';
import { ConnectError, PROTOCOL_VERSION, Refusal, type Admission, type RefusalCode } from '../shared/protocol.js';
import { VOICE_LOG, type VoiceEntry } from '../shared/record.js';
import { decodeYMessage, syncUpdate, toBase64 } from '../shared/wire.js';
import * as encoding from 'lib0/encoding';
import {
  api,
  connect,
  converged,
  encoded,
  join,
  joinAs,
  openMeeting,
  startServer,
  tempDir,
  until,
  type TestServer,
} from './helpers.js';
import { prng, randomBytes } from './prng.js';
import { RawClient, craft } from './raw.js';

let server: TestServer;
let publicDir: string;
let dataDir: string;
/** A meeting nobody attacks: it must keep working whatever happens elsewhere. */
let canary: { opened: Admission; people: MeetingConnection[] };

beforeAll(async () => {
  // A public root with a sibling "secret" file and a data directory next to it, so that any
  // traversal out of the public root would find something to serve.
  const root = await tempDir('polyphony-static-');
  publicDir = path.join(root, 'public');
  dataDir = path.join(root, 'data');
  await mkdir(path.join(publicDir, '.git'), { recursive: true });
  await mkdir(path.join(publicDir, 'assets'), { recursive: true });
  await writeFile(path.join(publicDir, 'index.html'), '<!doctype html><title>Polyphony</title>INDEX-PAGE');
  await writeFile(path.join(publicDir, 'assets', 'app.js'), 'console.log("app")');
  await writeFile(path.join(publicDir, '.git', 'config'), 'SECRET-GIT-CONFIG');
  await writeFile(path.join(publicDir, '.env'), 'SECRET-DOTENV');
  await writeFile(path.join(root, 'package.json'), '{"name":"SECRET-PACKAGE-JSON"}');
  server = await startServer({ dataDir, clientDir: publicDir });
  const opened = await openMeeting(server, 'Canary');
  canary = { opened, people: [await connect(server, opened), await joinAs(server, opened, 'Canary friend')] };
});

let canaryRound = 0;
async function canaryWorks(): Promise<void> {
  const round = canaryRound++;
  const ids = canary.people.map((c, i) => c.say(`canary round ${round} from ${i}`));
  await until(
    () =>
      converged(canary.people) &&
      canary.people.every((c) => canary.people.every((w, i) => c.log(w.me!).some((e) => e.id === ids[i]))) &&
      canary.people.every((c) => c.saved && c.status === 'connected'),
    'the canary meeting keeps working',
  );
  expect((await api(`${server.url}/api/health`, 'GET')).status).toBe(200);
}

interface Target {
  opened: Admission;
  attacker: RawClient;
  token: string;
  victim: MeetingConnection;
  docs(): Map<string, Buffer>;
}

/** A meeting whose documents must not change: a victim who has spoken, and an attacker who has too. */
async function target(): Promise<Target> {
  const opened = await openMeeting(server);
  const victim = await connect(server, opened);
  victim.say('Words that must not change.');
  const adm = await join(server, opened, 'Attacker');
  const attacker = await RawClient.connect(server.url, { meetingId: opened.meetingId, token: adm.personalToken });
  const mine = craft(await attacker.pull(attacker.me), (d) =>
    d.getArray<VoiceEntry>(VOICE_LOG).push([{ t: 'say', id: 'attacker01', text: 'My own words.', at: 1 }]),
  );
  attacker.send(attacker.me, syncUpdate(mine.update));
  await until(
    () => victim.log(attacker.me).length === 1 && victim.log(victim.me!).length === 1 && victim.saved,
    'target ready',
  );
  await attacker.pull(victim.me!);
  const docs = () => {
    const m = server.app.meetings.peek(opened.meetingId)!;
    return new Map([
      ['victim', encoded(m.voiceDocs().get(victim.me!))],
      ['attacker', encoded(m.voiceDocs().get(attacker.me))],
      ['meeting', encoded(m.meetingDoc)],
    ]);
  };
  return { opened, attacker, token: adm.personalToken, victim, docs };
}

/**
 * Send each payload on its own and collect what the server answered to it (refusal codes).
 * Connections are rotated so the per-connection message rate limit never answers instead.
 */
async function fire(
  t: Target,
  cases: ReadonlyArray<{ doc: unknown; payload: unknown }>,
): Promise<Array<RefusalCode[]>> {
  const answers: Array<RefusalCode[]> = [];
  let conn = t.attacker;
  let sent = 0;
  for (const c of cases) {
    if (sent >= 80) {
      conn.close();
      conn = await RawClient.connect(server.url, { meetingId: t.opened.meetingId, token: t.token });
      sent = 0;
    }
    const from = conn.refusals.length;
    conn.sendRaw(c.doc, c.payload);
    await conn.barrier();
    sent += 2;
    answers.push(conn.refusalsSince(from).map((r) => r.code));
  }
  return answers;
}

describe('malformed sync messages', () => {
  it('bad base64, unknown types, trailing bytes, truncations, wrong types and bad document ids are refused and change nothing', async () => {
    const t = await target();
    const before = t.docs();
    const me = t.attacker.me;
    const valid = craft(t.attacker.replica(me), (d) =>
      d.getArray<VoiceEntry>(VOICE_LOG).push([{ t: 'say', id: 'attacker02', text: 'A perfectly fine entry.', at: 2 }]),
    ).update;
    const validMessage = syncUpdate(valid);

    const cases: Array<{ what: string; doc: unknown; payload: unknown; codes: RefusalCode[] }> = [];
    const add = (what: string, doc: unknown, payload: unknown, codes: RefusalCode[]) =>
      cases.push({ what, doc, payload, codes });
    const malformed = [Refusal.malformed];

    add('not base64', me, '!!! not base64 ***', malformed);
    add('empty message', me, '', malformed);
    add('unknown message type', me, toBase64(new Uint8Array([7, 0, 0])), malformed);
    add('unknown sync message type', me, toBase64(new Uint8Array([0, 9, 0])), malformed);
    add('trailing bytes', me, toBase64(new Uint8Array([...validMessage, 0])), malformed);
    add('length prefix past the end', me, toBase64(new Uint8Array([0, 2, 200, 1, 2, 3])), malformed);
    add('awareness with too many entries', me, toBase64(awarenessBytes(1000)), [Refusal.malformed, Refusal.tooLarge]);
    // The message cut at every offset.
    for (let i = 0; i < validMessage.length; i++)
      add(`message cut at ${i}`, me, toBase64(validMessage.slice(0, i)), malformed);
    // The update cut at every offset, re-framed correctly: the framing is fine, the update is not.
    for (let i = 0; i < valid.length; i++) {
      add(`update cut at ${i}`, me, toBase64(syncUpdate(valid.slice(0, i))), [
        ...malformed,
        Refusal.missingDependencies,
      ]);
    }
    // Wrong types where a document id and base64 text belong.
    for (const payload of [42, null, {}, [], { toString: 'x' }, Buffer.from(validMessage)]) {
      add(`payload ${JSON.stringify(payload)}`, me, payload, [Refusal.invalid]);
    }
    for (const doc of [
      42,
      null,
      {},
      '__proto__',
      'constructor',
      'prototype',
      '../../db.json',
      'x'.repeat(10_000),
      '',
    ]) {
      add(`document ${JSON.stringify(doc).slice(0, 20)}`, doc, toBase64(validMessage), [Refusal.invalid]);
    }
    add('a well-formed id that is no document of this meeting', randomId(), toBase64(validMessage), [
      Refusal.unknownDocument,
    ]);
    add('a message over the size limit', me, toBase64(syncUpdate(new Uint8Array(LIMITS.messageBytes + 16))), [
      Refusal.tooLarge,
    ]);

    const answers = await fire(t, cases);
    const wrong = cases
      .map((c, i) => ({ what: c.what, expected: c.codes, got: answers[i]! }))
      .filter(({ expected, got }) => got.length !== 1 || !expected.includes(got[0]!));
    expect(wrong).toEqual([]);
    expect(t.docs()).toEqual(before);

    // The connection still works for honest use afterwards, and so does the canary.
    const conn = await RawClient.connect(server.url, { meetingId: t.opened.meetingId, token: t.token });
    conn.send(me, validMessage);
    await conn.barrier();
    expect(conn.refusals).toEqual([]);
    await until(() => t.victim.log(me).length === 2, 'valid entry arrives');
    await canaryWorks();
  });

  it('a seeded corpus of random bytes: everything undecodable is refused, no document changes', async () => {
    const t = await target();
    const before = t.docs();
    const next = prng(20_251_126);
    const cases: Array<{ doc: unknown; payload: Uint8Array }> = [];
    for (let i = 0; i < 300; i++) {
      const len = 1 + Math.floor(next() * 64);
      const tail = randomBytes(next, len);
      // A third plain random, a third framed as sync, a third framed as awareness.
      const kind = i % 3;
      const head = kind === 0 ? [] : kind === 1 ? [0, Math.floor(next() * 3)] : [1];
      const doc = next() < 0.5 ? t.attacker.me : t.victim.me!;
      cases.push({ doc, payload: new Uint8Array([...head, ...tail]) });
    }
    const answers = await fire(
      t,
      cases.map((c) => ({ doc: c.doc, payload: toBase64(c.payload) })),
    );
    const unanswered = cases.filter((c, i) => !mayBeAccepted(c.payload) && answers[i]!.length !== 1);
    expect(unanswered.map((c) => toBase64(c.payload))).toEqual([]);
    expect(answers.every((a) => a.length <= 1)).toBe(true);
    expect(t.docs()).toEqual(before);
    await canaryWorks();
  });

  it('a Socket.IO packet over maxHttpBufferSize closes only that connection', async () => {
    const t = await target();
    const before = t.docs();
    let reason = '';
    t.attacker.socket.on('disconnect', (r: string) => (reason = r));
    t.attacker.send(t.attacker.me, 'A'.repeat(LIMITS.packetBytes + 1024));
    await until(() => reason !== '', 'oversized packet closes the connection');
    expect(t.docs()).toEqual(before);
    expect(t.victim.status).toBe('connected');
    await canaryWorks();
  });
});

/** Only a sync step 1 (a read) may go unanswered by a refusal; anything that writes must decode. */
function mayBeAccepted(bytes: Uint8Array): boolean {
  try {
    return decodeYMessage(bytes).kind === 'step1';
  } catch {
    return false;
  }
}

function awarenessBytes(entries: number): Uint8Array {
  const inner = encoding.createEncoder();
  encoding.writeVarUint(inner, entries);
  for (let i = 0; i < entries; i++) {
    encoding.writeVarUint(inner, 1000 + i);
    encoding.writeVarUint(inner, 1);
    encoding.writeVarString(inner, '{"typing":true}');
  }
  const outer = encoding.createEncoder();
  encoding.writeVarUint(outer, 1);
  encoding.writeVarUint8Array(outer, encoding.toUint8Array(inner));
  return encoding.toUint8Array(outer);
}

describe('HTTP bodies', () => {
  it('an oversized body gets 413 with a JSON error', async () => {
    const r = await api<{ error: string; message: string }>(`${server.url}/api/meetings`, 'POST', {
      name: 'x'.repeat(64 * 1024),
    });
    expect(r.status).toBe(413);
    expect(r.headers.get('content-type')).toMatch(/application\/json/);
    expect(r.body).toEqual({ error: 'too-large' });
  });

  it('invalid JSON gets 400 with a JSON error', async () => {
    for (const body of ['{"name": ', '{name: 1}', "{'a': 1}", '\u0000', '[1,2', 'true false']) {
      const res = await fetch(`${server.url}/api/meetings`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      expect({ body, status: res.status }).toEqual({ body, status: 400 });
      expect(res.headers.get('content-type')).toMatch(/application\/json/);
      expect(await res.json()).toEqual({ error: 'invalid' });
    }
  });

  it('prototype-pollution bodies are refused and change nothing', async () => {
    const opened = await openMeeting(server);
    const db = path.join(dataDir, 'db.json');
    const before = await readFile(db);
    const bodies = [
      '{"__proto__": {"polluted": "yes"}}',
      '{"name": "x", "__proto__": {"polluted": "yes"}}',
      '{"constructor": {"prototype": {"polluted": "yes"}}}',
      '{"name": "x", "constructor": {"prototype": {"polluted": "yes"}}}',
      `{"joinToken": "${opened.joinToken}", "name": "x", "__proto__": {"polluted": "yes", "isAdmin": true}}`,
    ];
    const targets = [
      ['POST', '/api/meetings'],
      ['POST', `/api/meetings/${opened.meetingId}/join`],
      ['POST', '/api/session'],
      ['PATCH', `/api/meetings/${opened.meetingId}/me`],
    ] as const;
    for (const [method, route] of targets) {
      for (const body of bodies) {
        const res = await fetch(`${server.url}${route}`, {
          method,
          headers: { 'content-type': 'application/json' },
          body,
        });
        expect({ route, body, status: res.status }).toEqual({ route, body, status: 400 });
        await res.text();
      }
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
    expect(await server.app.store.participants(opened.meetingId)).toHaveLength(1);
    expect(await readFile(db)).toEqual(before);
  });

  it('prototype-pollution payloads on the socket (handshake, documents, control requests) change nothing', async () => {
    const opened = await openMeeting(server);
    const poison = JSON.parse(
      '{"__proto__": {"polluted": "yes"}, "constructor": {"prototype": {"polluted": "yes"}}}',
    ) as object;
    const hs = new RawClient(server.url, {
      meetingId: opened.meetingId,
      auth: { protocol: PROTOCOL_VERSION, meetingId: opened.meetingId, token: opened.personalToken, ...poison },
    });
    expect(await hs.outcome()).toMatchObject({ code: ConnectError.invalid });

    const c = await RawClient.connect(server.url, { meetingId: opened.meetingId, token: opened.personalToken });
    const before = encoded(server.app.meetings.peek(opened.meetingId)!.meetingDoc);
    const acks: unknown[] = [];
    for (const event of [
      'person:add',
      'reflect',
      'meeting:lock',
      'facilitation',
      'participant:remove',
      'meeting:end',
    ]) {
      acks.push(await c.socket.timeout(5000).emitWithAck(event, poison));
    }
    expect(acks.every((a) => typeof a === 'object' && a !== null && (a as { ok: boolean }).ok === false)).toBe(true);
    const n = c.refusals.length;
    c.send('__proto__', toBase64(syncUpdate(Y.encodeStateAsUpdate(new Y.Doc()))));
    await c.barrier();
    expect(c.refusalsSince(n).map((r) => r.code)).toEqual([Refusal.invalid]);
    expect(encoded(server.app.meetings.peek(opened.meetingId)!.meetingDoc)).toEqual(before);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    await canaryWorks();
  });
});

/** A raw HTTP GET: the path goes on the wire exactly as written (fetch would normalise `..`). */
function rawGet(url: string, rawPath: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path: rawPath, method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('static serving', () => {
  it('serves the public root', async () => {
    expect(await rawGet(server.url, '/')).toMatchObject({
      status: 200,
      body: expect.stringContaining('INDEX-PAGE') as unknown,
    });
    expect(await rawGet(server.url, '/assets/app.js')).toMatchObject({ status: 200 });
  });

  it.each([
    '/../package.json',
    '/%2e%2e/package.json',
    '/%2E%2E/package.json',
    '/..%2fpackage.json',
    '/%2e%2e%2fpackage.json',
    '/..%5cpackage.json',
    '/assets/../../package.json',
    '/assets/%2e%2e/%2e%2e/package.json',
    '/%252e%252e/package.json',
    '/..;/package.json',
    '//package.json',
    '/../data/db.json',
    '/%2e%2e/data/db.json',
    '/data/db.json',
    '/db.json',
    '/.git/config',
    '/.git/',
    '/%2egit/config',
    '/.env',
    '/assets/../.git/config',
    '/api/../../package.json',
    '/index.html/../../package.json',
    '/%00../package.json',
  ])('%s → 404, nothing outside the public root', async (p) => {
    const r = await rawGet(server.url, p);
    expect({ path: p, status: r.status }).toEqual({ path: p, status: 404 });
    expect(r.body).not.toMatch(/SECRET|"meetings"|"participants"/);
  });
});

// ════════════════════════════════════════════════════════════════════════════════════════════
// Issue 5, limits, access and headers (reliability): every limit on every channel answers the
// sender clearly and does nothing to anyone else; control payloads are validated; exports render
// people's words as text; unknown meetings create nothing and all look alike; strict headers;
// foreign origins, removed people and revoked links are kept out. Self-contained: its own servers.
// ════════════════════════════════════════════════════════════════════════════════════════════
import { existsSync as h5exists, readdirSync as h5readdir } from 'node:fs';
import { request as h5request } from 'node:http';
import { afterAll as h5afterAll } from 'vitest';
import { io as h5io, type Socket as H5Socket } from 'socket.io-client';
import { ControlError as H5ControlError, type Refused as H5Refused } from '../shared/protocol.js';
import { MEETING_DOC as H5_MEETING_DOC } from '../shared/ids.js';
import { fromBase64 as h5fromBase64, syncStep1 as h5syncStep1 } from '../shared/wire.js';

describe('issue 5: limits, access and headers', () => {
  /** A raw participant that records everything the server sends it. */
  class Peer {
    refusals: H5Refused[] = [];
    ys: Array<{ doc: string; kind: string; bytes: number }> = [];
    disconnectReason: string | null = null;
    welcomed = false;
    connectError: { code: string | undefined; message: string } | null = null;
    me = '';
    constructor(readonly socket: H5Socket) {
      socket.on('refused', (r: H5Refused) => this.refusals.push(r));
      socket.on('y', (doc: string, message: string) => {
        let kind = 'undecodable';
        try {
          kind = decodeYMessage(h5fromBase64(message)).kind;
        } catch {
          // recorded as undecodable
        }
        this.ys.push({ doc, kind, bytes: message.length });
      });
      socket.on('welcome', (w: { participantId: string }) => {
        this.welcomed = true;
        this.me = w.participantId;
      });
      socket.on('disconnect', (reason: string) => (this.disconnectReason = reason));
      socket.on('connect_error', (e: Error & { data?: { code?: string } }) => {
        this.connectError = { code: e.data?.code, message: e.message };
      });
    }

    static open(
      url: string,
      opts: {
        meetingId: string;
        token?: string;
        auth?: Record<string, unknown>;
        headers?: Record<string, string>;
        polling?: boolean;
      },
    ): Peer {
      const socket = h5io(url, {
        auth: opts.auth ?? {
          protocol: PROTOCOL_VERSION,
          meetingId: opts.meetingId,
          ...(opts.token ? { token: opts.token } : {}),
        },
        transports: opts.polling ? ['polling'] : ['websocket'],
        forceNew: true,
        reconnection: false,
        ...(opts.headers ? { extraHeaders: opts.headers } : {}),
      });
      const peer = new Peer(socket);
      h5cleanups.push(() => socket.disconnect());
      return peer;
    }

    static async connect(url: string, meetingId: string, token: string): Promise<Peer> {
      const p = Peer.open(url, { meetingId, token });
      await until(() => p.welcomed || p.connectError !== null, 'welcomed or refused');
      if (!p.welcomed) throw new Error(`refused: ${JSON.stringify(p.connectError)}`);
      return p;
    }

    async outcome(): Promise<'welcome' | string> {
      await until(() => this.welcomed || this.connectError !== null, 'connect outcome');
      return this.welcomed ? 'welcome' : (this.connectError!.code ?? 'no code');
    }

    send(doc: unknown, payload: unknown): void {
      (this.socket as unknown as { emit(ev: string, ...a: unknown[]): void }).emit('y', doc, payload);
    }

    /** Everything sent before has been handled (a sync step 1 is answered in order). */
    async barrier(): Promise<void> {
      const n = this.ys.filter((y) => y.doc === H5_MEETING_DOC && y.kind === 'step2').length;
      this.send(H5_MEETING_DOC, toBase64(h5syncStep1(new Y.Doc())));
      await until(() => this.ys.filter((y) => y.doc === H5_MEETING_DOC && y.kind === 'step2').length > n, 'barrier');
    }

    ack(event: string, input: unknown): Promise<unknown> {
      return (
        this.socket.timeout(5000) as unknown as { emitWithAck(e: string, i: unknown): Promise<unknown> }
      ).emitWithAck(event, input);
    }
  }
  const h5cleanups: Array<() => void> = [];
  h5afterAll(() => {
    for (const f of h5cleanups) f();
  });
  /** A raw HTTP GET: the path goes on the wire exactly as written. */
  const h5rawGet = (url: string, rawPath: string): Promise<{ status: number; body: string }> => {
    const { hostname, port } = new URL(url);
    return new Promise((resolve, reject) => {
      const req = h5request({ hostname, port, path: rawPath, method: 'GET' }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
  };

  let srv: TestServer;
  let root: string;
  beforeAll(async () => {
    root = await tempDir('polyphony-h5-');
    await mkdir(path.join(root, 'public'), { recursive: true });
    await writeFile(path.join(root, 'public', 'index.html'), '<!doctype html><title>Polyphony</title>PUBLIC-INDEX');
    await writeFile(path.join(root, 'package.json'), '{"name":"H5-SECRET-PACKAGE"}');
    srv = await startServer({ dataDir: path.join(root, 'data'), clientDir: path.join(root, 'public') });
  });

  /** A meeting with a sender (raw), a bystander who writes (the page's module) and one who only listens (raw). */
  async function room() {
    const opened = await openMeeting(srv, 'Facilitator');
    const senderAdmission = await join(srv, opened, 'Sender');
    const sender = await Peer.connect(srv.url, opened.meetingId, senderAdmission.personalToken);
    const writer = await joinAs(srv, opened, 'Bystander who writes');
    const listenerAdmission = await join(srv, opened, 'Bystander who listens');
    const listener = await Peer.connect(srv.url, opened.meetingId, listenerAdmission.personalToken);
    writer.say('words of a bystander');
    await until(() => writer.saved, 'bystander saved');
    const doc = (id: string) => {
      const m = srv.app.meetings.peek(opened.meetingId)!;
      return encoded(id === H5_MEETING_DOC ? m.meetingDoc : m.voiceDocs().get(id));
    };
    /** What the bystanders have received so far (to show that an attack sends them nothing). */
    const mark = () => ({
      listenerRefusals: listener.refusals.length,
      writerRefusals: writer.refusals.length,
      listenerAboutSender: listener.ys.filter((y) => y.doc === sender.me).length,
    });
    const nothingToOthers = async (before: ReturnType<typeof mark>) => {
      await sender.barrier();
      await listener.barrier();
      expect(mark()).toEqual(before);
      expect(listener.disconnectReason).toBeNull();
      expect(writer.status).toBe('connected');
      // The bystander still writes and is saved.
      writer.say('the bystander carries on');
      await until(() => writer.saved, 'bystander saved after the attack');
    };
    return { opened, sender, senderAdmission, writer, listener, doc, mark, nothingToOthers };
  }

  const frameSync = (sub: number, payload: Uint8Array) => {
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, 0);
    encoding.writeVarUint(e, sub);
    encoding.writeVarUint8Array(e, payload);
    return encoding.toUint8Array(e);
  };
  const awarenessRaw = (clientID: number, clock: number, json: string) => {
    const inner = encoding.createEncoder();
    encoding.writeVarUint(inner, 1);
    encoding.writeVarUint(inner, clientID);
    encoding.writeVarUint(inner, clock);
    encoding.writeVarString(inner, json);
    const outer = encoding.createEncoder();
    encoding.writeVarUint(outer, 1);
    encoding.writeVarUint8Array(outer, encoding.toUint8Array(inner));
    return encoding.toUint8Array(outer);
  };
  /** A valid update adding `n` entries of `chars` characters to a copy of `base`. */
  const entries = (base: Y.Doc, n: number, chars: number, tag: string) => {
    const d = new Y.Doc({ gc: false });
    Y.applyUpdate(d, Y.encodeStateAsUpdate(base));
    const sv = Y.encodeStateVector(d);
    d.getArray<VoiceEntry>(VOICE_LOG).push(
      Array.from({ length: n }, (_, i) => ({
        t: 'say' as const,
        id: `${tag}${String(i).padStart(6, '0')}`,
        text: `${tag} `.padEnd(chars, 'w'),
        at: 1,
      })),
    );
    Y.applyUpdate(base, Y.encodeStateAsUpdate(d, sv));
    return Y.encodeStateAsUpdate(d, sv);
  };

  describe('limits on every channel: a clear rejection to the sender, nothing to anyone else', () => {
    it(`Yjs message size (LIMITS.messageBytes = ${LIMITS.messageBytes} bytes): too-large, nothing applied`, async () => {
      const r = await room();
      const before = r.doc(r.sender.me);
      const seen = r.mark();
      // Just over the limit after base64 decoding, and far over it (refused before decoding).
      r.sender.send(r.sender.me, toBase64(frameSync(2, new Uint8Array(LIMITS.messageBytes - 4))));
      r.sender.send(r.sender.me, toBase64(frameSync(2, new Uint8Array(LIMITS.messageBytes * 1.2))));
      await r.nothingToOthers(seen);
      expect(r.sender.refusals.map((x) => x.code)).toEqual([Refusal.tooLarge, Refusal.tooLarge]);
      expect(r.doc(r.sender.me)).toEqual(before);
      // A large update under the limit is fine.
      const base = new Y.Doc({ gc: false });
      r.sender.send(r.sender.me, toBase64(syncUpdate(entries(base, 45, 5000, 'big'))));
      await r.sender.barrier();
      expect(r.sender.refusals).toHaveLength(2);
    });

    it(
      `document size (LIMITS.documentBytes = ${LIMITS.documentBytes} bytes): too-large once a voice is full, nothing applied`,
      { timeout: 60_000 },
      async () => {
        const r = await room();
        const base = new Y.Doc({ gc: false });
        let sent = 0;
        // ~225 kB updates (45 entries of 5,000 characters) until the voice would pass the limit.
        for (let k = 0; k < 60 && r.sender.refusals.length === 0; k++) {
          r.sender.send(r.sender.me, toBase64(syncUpdate(entries(base, 45, 5000, `d${k}x`))));
          sent++;
          await r.sender.barrier();
        }
        const refused = r.sender.refusals;
        expect(refused.map((x) => x.code)).toEqual([Refusal.tooLarge]);
        const size = r.doc(r.sender.me).length;
        console.log(
          `[hostile] document limit reached after ${sent - 1} updates: voice holds ${size} bytes; refusal: ${refused[0]!.code}`,
        );
        expect(size).toBeLessThanOrEqual(LIMITS.documentBytes);
        expect(size).toBeGreaterThan(LIMITS.documentBytes - 300_000);
        const before = r.doc(r.sender.me);
        await r.listener.barrier();
        const seen = r.mark();
        // Any further update that would pass the limit is refused too (smaller ones still fit).
        const left = LIMITS.documentBytes - before.length;
        r.sender.send(r.sender.me, toBase64(syncUpdate(entries(base, Math.ceil(left / 5000) + 1, 5000, 'over'))));
        await r.nothingToOthers(seen);
        expect(r.sender.refusals.map((x) => x.code)).toEqual([Refusal.tooLarge, Refusal.tooLarge]);
        expect(r.doc(r.sender.me).equals(before)).toBe(true);
      },
    );

    it(`awareness state size (LIMITS.awarenessBytes = ${LIMITS.awarenessBytes} bytes): refused, nothing relayed`, async () => {
      const r = await room();
      const seen = r.mark();
      const sizes: Array<[string, number]> = [];
      const attempts = [
        // More than a presence state, over the limit.
        JSON.stringify({ typing: true, name: 'x'.repeat(LIMITS.awarenessBytes) }),
        // A presence state written in more than LIMITS.awarenessBytes bytes (JSON whitespace).
        `{"typing":true${' '.repeat(LIMITS.awarenessBytes * 4)}}`,
        `{${'\n'.repeat(20_000)}"typing":false}`,
      ];
      for (const [i, json] of attempts.entries()) {
        const msg = awarenessRaw(424242 + i, 1, json);
        sizes.push([json.slice(0, 20), msg.length]);
        r.sender.send(r.sender.me, toBase64(msg));
      }
      await r.sender.barrier();
      await r.listener.barrier();
      const relayed = r.listener.ys.filter((y) => y.doc === r.sender.me && y.kind === 'awareness');
      console.log(
        `[hostile] awareness over ${LIMITS.awarenessBytes} bytes: ${attempts.length} sent (${sizes.map(([, n]) => n).join(', ')} bytes), ` +
          `refusals ${JSON.stringify(r.sender.refusals.map((x) => x.code))}, relayed to others: ${relayed.map((y) => y.bytes).join(', ') || 'none'}`,
      );
      expect(r.sender.refusals).toHaveLength(attempts.length);
      expect(r.sender.refusals.every((x) => x.code === Refusal.tooLarge || x.code === Refusal.invalid)).toBe(true);
      expect(relayed).toEqual([]);
      await r.nothingToOthers(seen);
    });

    it(`message rate per connection (LIMITS.messagesPerSecond = ${LIMITS.messagesPerSecond}/s): rate-limited refusals, others untouched`, async () => {
      const r = await room();
      const seen = r.mark();
      const burst = LIMITS.messagesPerSecond * 2 + 50;
      const step1 = toBase64(h5syncStep1(new Y.Doc()));
      for (let i = 0; i < burst; i++) r.sender.send(r.sender.me, step1);
      await until(
        () =>
          r.sender.refusals.length + r.sender.ys.filter((y) => y.doc === r.sender.me && y.kind === 'step2').length >=
          burst,
        'every message answered',
      );
      const limited = r.sender.refusals.filter((x) => x.code === Refusal.rateLimited).length;
      console.log(
        `[hostile] a burst of ${burst} messages: ${burst - limited} answered, ${limited} refused as rate-limited`,
      );
      expect(limited).toBeGreaterThanOrEqual(burst - LIMITS.messagesPerSecond * 1.5);
      expect(limited).toBeLessThanOrEqual(burst - LIMITS.messagesPerSecond);
      expect(r.sender.refusals.every((x) => x.code === Refusal.rateLimited)).toBe(true);
      // A second later the sender may speak again.
      await new Promise((res) => setTimeout(res, 1100));
      const n = r.sender.refusals.length;
      await r.nothingToOthers(seen);
      expect(r.sender.refusals.length).toBe(n);
      expect(r.sender.socket.connected).toBe(true);
    });

    it(`Socket.IO packet size (maxHttpBufferSize = ${LIMITS.packetBytes} bytes): only the sender is disconnected`, async () => {
      const r = await room();
      const before = r.doc(r.sender.me);
      const seen = r.mark();
      r.sender.send(r.sender.me, 'A'.repeat(LIMITS.packetBytes + 1000));
      await until(() => r.sender.disconnectReason !== null, 'sender disconnected');
      expect(r.sender.disconnectReason).toMatch(/transport (close|error)/);
      await r.listener.barrier();
      expect(r.mark()).toEqual(seen);
      expect(r.listener.disconnectReason).toBeNull();
      expect(r.doc(r.sender.me)).toEqual(before);
      r.writer.say('still here');
      await until(() => r.writer.saved, 'bystander saved');
      // The sender may come back and is welcome (a too-large packet is not a ban).
      expect(
        await Peer.open(srv.url, { meetingId: r.opened.meetingId, token: r.senderAdmission.personalToken }).outcome(),
      ).toBe('welcome');
    });

    it(`HTTP body size (${LIMITS.httpBody}) on every JSON route: 413 with a JSON error`, async () => {
      const opened = await openMeeting(srv);
      const big = { name: 'x'.repeat(20 * 1024) };
      const auth = { authorization: `Bearer ${opened.personalToken}` };
      for (const [method, route] of [
        ['POST', '/api/meetings'],
        ['POST', `/api/meetings/${opened.meetingId}/join`],
        ['POST', '/api/session'],
        ['PATCH', `/api/meetings/${opened.meetingId}/me`],
        ['PATCH', `/api/meetings/${opened.meetingId}/network`],
        ['POST', `/api/meetings/${opened.meetingId}/erasure`],
        ['POST', '/api/me/revoke'],
      ] as const) {
        const res = await api<{ error: string; message: string }>(`${srv.url}${route}`, method, big, auth);
        expect({ route, status: res.status, body: res.body }).toEqual({
          route,
          status: 413,
          body: { error: 'too-large' },
        });
      }
    });

    it(
      `meetings opened (${LIMITS.opensPerMinute}) and joins attempted (${LIMITS.joinsPerMinute}) per address per minute: 429 with the code`,
      { timeout: 60_000 },
      async () => {
        const limited = await startServer({ config: { rateLimits: true } });
        const first = await openMeeting(limited);
        const live = await connect(limited, first);
        const statuses: number[] = [];
        for (let i = 1; i < LIMITS.opensPerMinute; i++)
          statuses.push((await api(`${limited.url}/api/meetings`, 'POST', {})).status);
        expect(statuses.every((s) => s === 201)).toBe(true);
        const over = await api<{ error: string; message: string }>(`${limited.url}/api/meetings`, 'POST', {});
        expect(over.status).toBe(429);
        expect(over.headers.get('content-type')).toMatch(/application\/json/);
        expect(over.body).toEqual({ error: 'rate-limited' });
        console.log(
          `[hostile] open #${LIMITS.opensPerMinute + 1} within a minute: ${over.status} ${JSON.stringify(over.body)}`,
        );

        const joins: number[] = [];
        for (let i = 0; i < LIMITS.joinsPerMinute; i++) {
          joins.push(
            (
              await api(`${limited.url}/api/meetings/${first.meetingId}/join`, 'POST', {
                joinToken: first.joinToken,
                name: `P${i}`,
              })
            ).status,
          );
        }
        expect(joins.every((s) => s === 201)).toBe(true);
        const joinOver = await api<{ error: string; message: string }>(
          `${limited.url}/api/meetings/${first.meetingId}/join`,
          'POST',
          {
            joinToken: first.joinToken,
          },
        );
        expect(joinOver.status).toBe(429);
        expect(joinOver.body).toEqual({ error: 'rate-limited' });
        // Exchanging a link for a session counts as a join attempt too.
        expect((await api(`${limited.url}/api/session`, 'POST', { token: first.personalToken })).status).toBe(429);
        // Nothing changes for people already in: they keep writing and are saved.
        live.say('words while the address is limited');
        await until(() => live.saved, 'saved while limited');
        expect(await limited.app.store.participants(first.meetingId)).toHaveLength(LIMITS.joinsPerMinute + 1);
      },
    );
  });

  describe('control payloads are validated against the schemas in shared/', () => {
    it('every invalid or polluting input gets {ok:false, error:"invalid"} and changes nothing', async () => {
      const opened = await openMeeting(srv, 'Facilitator');
      const other = await join(srv, opened, 'Other');
      const f = await Peer.connect(srv.url, opened.meetingId, opened.personalToken);
      await Peer.connect(srv.url, opened.meetingId, other.personalToken);
      const meetingBefore = encoded(srv.app.meetings.peek(opened.meetingId)!.meetingDoc);
      const dbFile = path.join(srv.dataDir, 'db.json');
      const dbBefore = await readFile(dbFile);
      const proto = (): unknown => JSON.parse('{"__proto__": {"polluted": true, "ok": true}}');
      const ctor = (): unknown => JSON.parse('{"constructor": {"prototype": {"polluted": true}}}');
      const common: unknown[] = [
        undefined,
        null,
        0,
        42,
        'text',
        true,
        [],
        [{}],
        {},
        proto(),
        ctor(),
        { toString: 'x' },
      ];
      const cases: Record<string, unknown[]> = {
        'person:add': [
          ...common,
          { name: '' },
          { name: '   ' },
          { name: 'x'.repeat(LIMITS.nameChars + 1) },
          { name: 5 },
          { name: 'A', relation: 7 },
          { name: 'A', isAdmin: true },
        ],
        reflect: [...common, { action: 'begin' }, { action: 'start', by: other.participantId }, { action: ['start'] }],
        'response:close': [...common, { responded: 'yes' }, { responded: 1 }],
        'meeting:lock': [...common, { locked: 'true' }, { locked: 1 }, { locked: true, facilitators: [] }],
        'meeting:end': [
          ...common,
          { next: undefined },
          { next: { agreed: true, when: 'tomorrow' } },
          { next: { agreed: true, extra: 1 } },
          { next: { agreed: 'yes' } },
          { next: null, status: 'open' },
        ],
        facilitation: [
          ...common,
          { to: '__proto__', mode: 'hand' },
          { to: '../../db.json', mode: 'share' },
          { to: other.participantId, mode: 'steal' },
          { to: other.participantId },
        ],
        'participant:remove': [
          ...common,
          { who: 'constructor' },
          { who: 42 },
          { who: [other.participantId] },
          { who: other.participantId, why: 'x' },
        ],
      };
      const wrong: unknown[] = [];
      let n = 0;
      for (const [event, inputs] of Object.entries(cases)) {
        for (const input of inputs) {
          const ack = (await f.ack(event, input)) as { ok: boolean; error?: string; message?: string };
          n++;
          if (ack.ok !== false || ack.error !== H5ControlError.invalid || ack.message !== undefined) {
            wrong.push({ event, input, ack });
          }
          // Pace under the per-connection limit.
          if (n % 100 === 0) await new Promise((res) => setTimeout(res, 600));
        }
      }
      console.log(
        `[hostile] ${n} invalid control payloads over ${Object.keys(cases).length} events: ${n - wrong.length} answered {ok:false, error:'invalid'}`,
      );
      expect(wrong).toEqual([]);
      // Without an ack function nothing happens at all (and nothing breaks).
      (f.socket as unknown as { emit(e: string, i: unknown): void }).emit('meeting:end', { next: null });
      await f.barrier();
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(encoded(srv.app.meetings.peek(opened.meetingId)!.meetingDoc)).toEqual(meetingBefore);
      expect((await readFile(dbFile)).equals(dbBefore)).toBe(true);
      expect(srv.app.meetings.peek(opened.meetingId)!.status).toBe('open');
      // And the same connection still makes valid requests.
      expect(await f.ack('meeting:lock', { locked: true })).toEqual({ ok: true });
    });
  });

  describe('path traversal against the API routes and the socket path', () => {
    it.each([
      '/api/%2e%2e/package.json',
      '/api/..%2f..%2fpackage.json',
      '/api/meetings/..%2f..%2fpackage.json/export.md',
      '/api/meetings/%2e%2e%2f%2e%2e%2fpackage.json/export.json',
      '/api/meetings/..%5c..%5cdata%5cdb.json/access',
      '/api/health/../../package.json',
      '/api/health/..%2f..%2fdata/db.json',
      '/socket.io/../package.json',
      '/socket.io/%2e%2e/package.json',
      '/data/db.json',
      '/data/meetings/',
      '/.git/HEAD',
      '/public/index.html/../../package.json',
    ])('%s → 404, nothing outside the public root', async (p) => {
      const r = await h5rawGet(srv.url, p);
      // Under /socket.io/ the Engine.IO handler answers first: 400 "Transport unknown", no content.
      const expected = p.startsWith('/socket.io/') && r.status === 400 && /Transport unknown/.test(r.body) ? 400 : 404;
      expect({ path: p, status: r.status }).toEqual({ path: p, status: expected });
      expect(r.body).not.toMatch(/SECRET|"meetings"|"participants"|tokenHash/);
    });
  });

  describe('people’s words and names as text', () => {
    const payloads = [
      '<script>alert(1)</script>',
      '<img src=x onerror=alert(1)>',
      '<a href="javascript:alert(1)">look</a>',
      '[look](javascript:alert(1))',
      '![x](https://evil.example/track.png)',
      '<svg/onload=alert(1)>',
      '<!-- hidden -->',
      '&lt;script&gt;alert(1)&lt;/script&gt;',
      '<https://evil.example>',
      '`<b>code</b>`',
    ];

    it('HTML and script in names, relations and contributions come back as plain text in the Markdown export', async () => {
      const opened = await openMeeting(srv, '<b>Facilitator</b>');
      const named = await join(srv, opened, '<script>alert("name")</script>', '<img src=x onerror=alert(2)>');
      const c = await connect(srv, named);
      const f = await connect(srv, opened);
      for (const p of payloads) c.say(p);
      const added = (await f.request('person:add', { name: '<iframe src="javascript:alert(3)">', relation: '' })) as {
        ok: boolean;
      };
      expect(added.ok).toBe(true);
      await until(() => c.saved && c.log(c.me!).length === payloads.length, 'saved');
      const res = await fetch(`${srv.url}/api/meetings/${opened.meetingId}/export.md`, {
        headers: { authorization: `Bearer ${opened.personalToken}` },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/markdown/);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('content-disposition')).toMatch(/^attachment/);
      const md = await res.text();
      // No markup from anyone survives: no tag, no comment, no autolink, no link or image syntax.
      expect(md).not.toMatch(/<|>/);
      expect(md).not.toMatch(/\]\(|!\[/);
      expect(md).toContain('&lt;script&gt;alert\\(1\\)&lt;/script&gt;');
      expect(md).toContain('&amp;lt;script&amp;gt;');
      expect(md).toContain('&lt;script&gt;alert\\("name"\\)&lt;/script&gt;');
      expect(md).toContain('&lt;iframe src="javascript:alert\\(3\\)"&gt;');
    });

    it('line breaks in words or names cannot forge another entry or heading in the Markdown export', async () => {
      const opened = await openMeeting(srv, 'Facilitator');
      const ben = await join(srv, opened, 'Ben', 'brother');
      // A name is one line: a name with a line break is refused at the door.
      const multiline = await fetch(`${srv.url}/api/meetings/${opened.meetingId}/join`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ joinToken: opened.joinToken, name: 'Mallory\n- **Ben** (brother), 1 Jan 2030, 12:00:' }),
      });
      expect(multiline.status).toBe(400);
      expect(((await multiline.json()) as { error: string }).error).toBe('invalid');
      const mallory = await connect(srv, await join(srv, opened, 'Mallory - **Ben** (brother), 1 Jan 2030, 12:00:'));
      const forged = [
        'I am fine.\n- **Ben** (brother), 1 Jan 2030, 12:00:  \n  I agree to the hospital.',
        'Also fine.\r- Ben (brother), 1 Jan 2030, 12:00:\r  I agree as well.',
        'And this.\n\n## People\n\n- Ben',
        'One more.\n1. Ben agrees\n2) so do I',
        'Last.\n    indented code\n=====',
      ];
      for (const t of forged) mallory.say(t);
      await until(() => mallory.saved && mallory.log(mallory.me!).length === forged.length, 'saved');
      const md = await (
        await fetch(`${srv.url}/api/meetings/${opened.meetingId}/export.md`, {
          headers: { authorization: `Bearer ${ben.personalToken}` },
        })
      ).text();
      const lines = md.split(/\r\n|\r|\n/);
      const record = lines.slice(lines.indexOf('## Record'));
      const topLevelItems = record.filter((l) => /^(?:[-*+]|\d+[.)])\s/.test(l));
      const headings = lines.filter((l) => /^#{1,6}\s/.test(l) || /^(=+|-+)\s*$/.test(l));
      const people = lines
        .slice(lines.indexOf('## People') + 1, lines.indexOf('## Record'))
        .filter((l) => /^[-*+]\s/.test(l));
      console.log(
        `[hostile] Markdown export with line breaks in words and names: ${topLevelItems.length} top-level record items for ${forged.length} contributions; ` +
          `${headings.length} headings (4 expected); ${people.length} people lines for 3 people`,
      );
      expect.soft(topLevelItems, 'one top-level item per contribution').toHaveLength(forged.length);
      expect
        .soft(headings, 'only the export’s own headings')
        .toEqual(['# Meeting record', '## Next meeting', '## People', '## Record']);
      expect.soft(people, 'one line per person').toHaveLength(3);
      expect(md.split(/\r/).length, 'no bare carriage returns (a line ending in Markdown)').toBe(1);
    });
  });

  describe('unknown meetings and bad tokens', () => {
    it('never create state, and every "no such meeting / bad token" answer is the same', async () => {
      const real = await openMeeting(srv, 'Real');
      const stranger = await openMeeting(srv, 'Stranger');
      const dbFile = path.join(srv.dataDir, 'db.json');
      const meetingsDir = path.join(srv.dataDir, 'meetings');
      // Let the writes of opening settle, then take the "before" picture.
      await new Promise((res) => setTimeout(res, 300));
      const dbBefore = await readFile(dbFile);
      const filesBefore = h5exists(meetingsDir) ? h5readdir(meetingsDir).sort() : [];
      const loadedBefore = srv.app.meetings.size;

      const unknownIds = [
        randomId(),
        randomId(),
        '__proto__',
        'constructor',
        '..%2f..%2fdb.json',
        'x'.repeat(22),
        'AAAAAAAAAAAAAAAAAAAAAA',
      ];
      const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
      const answers: Array<{ what: string; status: number; body: string }> = [];
      const ask = async (
        what: string,
        method: string,
        route: string,
        body?: unknown,
        headers: Record<string, string> = {},
      ) => {
        const res = await fetch(`${srv.url}${route}`, {
          method,
          headers: { 'content-type': 'application/json', ...headers },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        answers.push({ what, status: res.status, body: await res.text() });
      };
      for (const id of unknownIds) {
        await ask(`join ${id}`, 'POST', `/api/meetings/${id}/join`, { joinToken: randomId(), name: 'x' });
        for (const sub of ['export.md', 'export.json', 'access', 'next.ics'])
          await ask(`${sub} ${id}`, 'GET', `/api/meetings/${id}/${sub}`, undefined, bearer(real.personalToken));
        await ask(`me ${id}`, 'PATCH', `/api/meetings/${id}/me`, { name: 'y' }, bearer(real.personalToken));
        await ask(
          `erasure ${id}`,
          'POST',
          `/api/meetings/${id}/erasure`,
          { scope: 'mine' },
          bearer(real.personalToken),
        );
        await ask(`next ${id}`, 'POST', `/api/meetings/${id}/next`, {}, bearer(real.personalToken));
      }
      // A real meeting with a wrong join token, with no token, with another meeting's token, with a made-up token.
      await ask('join real, wrong join token', 'POST', `/api/meetings/${real.meetingId}/join`, {
        joinToken: randomId(),
        name: 'x',
      });
      await ask('export real, no token', 'GET', `/api/meetings/${real.meetingId}/export.md`);
      await ask(
        'export real, another meeting’s token',
        'GET',
        `/api/meetings/${real.meetingId}/export.md`,
        undefined,
        bearer(stranger.personalToken),
      );
      await ask(
        'export real, made-up token',
        'GET',
        `/api/meetings/${real.meetingId}/export.md`,
        undefined,
        bearer(randomId()),
      );
      await ask(
        'access real, made-up token',
        'GET',
        `/api/meetings/${real.meetingId}/access`,
        undefined,
        bearer(randomId()),
      );
      await ask('session, made-up token', 'POST', '/api/session', { token: randomId() });
      await ask('revoke, made-up token', 'POST', '/api/me/revoke', {}, bearer(randomId()));

      const distinct = new Set(answers.map((a) => `${a.status} ${a.body}`));
      console.log(
        `[hostile] ${answers.length} "no such meeting / bad token" requests, ${distinct.size} distinct answer(s): ${[...distinct].join(' | ')}`,
      );
      expect([...distinct]).toHaveLength(1);
      expect(answers[0]!.status).toBe(404);

      // Socket.IO handshakes: unknown meeting, made-up token, another meeting's token — one code.
      const codes = await Promise.all(
        [
          { meetingId: randomId(), token: real.personalToken },
          { meetingId: real.meetingId, token: randomId() },
          { meetingId: real.meetingId, token: stranger.personalToken },
          { meetingId: randomId(), token: randomId() },
        ].map(async (o) => {
          const p = Peer.open(srv.url, o);
          await p.outcome();
          return `${p.connectError?.code} ${p.connectError?.message}`;
        }),
      );
      expect(new Set(codes).size).toBe(1);
      expect(codes[0]).toMatch(/^no-access /);

      // Nothing was created: no meeting loaded, no file, db.json byte for byte the same.
      expect(srv.app.meetings.size).toBeLessThanOrEqual(loadedBefore);
      for (const id of unknownIds) expect(srv.app.meetings.peek(id)).toBeUndefined();
      expect(h5exists(meetingsDir) ? h5readdir(meetingsDir).sort() : []).toEqual(filesBefore);
      expect((await readFile(dbFile)).equals(dbBefore)).toBe(true);
    });
  });

  describe('security headers', () => {
    it('a strict Content-Security-Policy (no third-party source, no inline script) and no-store for record data', async () => {
      const opened = await openMeeting(srv);
      const responses = {
        page: await fetch(`${srv.url}/`),
        health: await fetch(`${srv.url}/api/health`),
        apiNotFound: await fetch(`${srv.url}/api/nothing-here`),
        apiError: await fetch(`${srv.url}/api/meetings`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{',
        }),
        exportMd: await fetch(`${srv.url}/api/meetings/${opened.meetingId}/export.md`, {
          headers: { authorization: `Bearer ${opened.personalToken}` },
        }),
        exportJson: await fetch(`${srv.url}/api/meetings/${opened.meetingId}/export.json`, {
          headers: { authorization: `Bearer ${opened.personalToken}` },
        }),
        me: await fetch(`${srv.url}/api/me`, { headers: { authorization: `Bearer ${opened.personalToken}` } }),
      };
      expect(await responses.page.clone().text()).toContain('PUBLIC-INDEX');
      for (const [name, res] of Object.entries(responses)) {
        const csp = res.headers.get('content-security-policy') ?? '';
        const directives = new Map(
          csp
            .split(';')
            .map((d) => d.trim())
            .filter(Boolean)
            .map((d) => {
              const [k, ...v] = d.split(/\s+/);
              return [k!, v] as const;
            }),
        );
        expect({ name, hasCsp: directives.size > 0 }).toEqual({ name, hasCsp: true });
        for (const [k, sources] of directives) {
          for (const s of sources)
            expect({ name, directive: k, source: s }).toEqual({
              name,
              directive: k,
              source: expect.stringMatching(/^'(self|none)'$/),
            });
        }
        for (const needed of ['default-src', 'script-src', 'object-src', 'base-uri', 'frame-ancestors'])
          expect(directives.has(needed)).toBe(true);
        expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|\*|data:|https?:/);
        expect(res.headers.get('x-content-type-options')).toBe('nosniff');
        expect(res.headers.get('referrer-policy')).toBe('no-referrer');
        expect(res.headers.get('x-powered-by')).toBeNull();
        if (name !== 'page')
          expect({ name, cacheControl: res.headers.get('cache-control') }).toEqual({ name, cacheControl: 'no-store' });
        await res.arrayBuffer();
      }
    });
  });

  describe('who may connect', () => {
    it('a Socket.IO connection from a foreign Origin is refused with bad-origin; the page’s own origin is welcome', async () => {
      const opened = await openMeeting(srv);
      const outcomes: Record<string, string> = {};
      for (const origin of [
        'https://evil.example',
        'null',
        'http://127.0.0.1.evil.example',
        'file://',
        `http://localhost:1`,
      ]) {
        outcomes[origin] = await Peer.open(srv.url, {
          meetingId: opened.meetingId,
          token: opened.personalToken,
          headers: { origin },
        }).outcome();
      }
      outcomes['polling from evil'] = await Peer.open(srv.url, {
        meetingId: opened.meetingId,
        token: opened.personalToken,
        headers: { origin: 'https://evil.example' },
        polling: true,
      }).outcome();
      expect(Object.values(outcomes).every((o) => o === 'bad-origin')).toBe(true);
      expect(
        await Peer.open(srv.url, {
          meetingId: opened.meetingId,
          token: opened.personalToken,
          headers: { origin: srv.url },
        }).outcome(),
      ).toBe('welcome');
      expect(srv.app.meetings.peek(opened.meetingId)!.here()).toEqual([opened.participantId]);
    });

    it('a participant removed by the facilitator is disconnected at once and cannot reconnect in any way', async () => {
      const opened = await openMeeting(srv, 'Facilitator');
      const f = await connect(srv, opened);
      const removedAdmission = await join(srv, opened, 'To be removed');
      const removed = await connect(srv, removedAdmission);
      removed.say('words that stay');
      await until(() => removed.saved, 'saved');
      const session = await api(`${srv.url}/api/session`, 'POST', { token: removedAdmission.personalToken });
      const cookie = session.headers.getSetCookie()[0]!.split(';')[0]!;
      const second = Peer.open(srv.url, { meetingId: opened.meetingId, headers: { cookie } });
      expect(await second.outcome()).toBe('welcome');

      const t0 = Date.now();
      expect(await f.request('participant:remove', { who: removed.me! })).toEqual({ ok: true });
      await until(
        () => removed.status !== 'connected' && second.disconnectReason !== null,
        'disconnected at once',
        2000,
      );
      console.log(`[hostile] removed participant disconnected ${Date.now() - t0} ms after the request (both devices)`);
      expect(second.disconnectReason).toBe('io server disconnect');

      // Reconnecting: the page's own module, by token, by cookie, over polling, and with recovery data.
      removed.socket.connect();
      await until(() => removed.status === 'refused', 'refused on reconnect');
      expect(removed.connectError?.code).toBe('no-access');
      const tries = [
        Peer.open(srv.url, { meetingId: opened.meetingId, token: removedAdmission.personalToken }),
        Peer.open(srv.url, { meetingId: opened.meetingId, headers: { cookie } }),
        Peer.open(srv.url, { meetingId: opened.meetingId, token: removedAdmission.personalToken, polling: true }),
        Peer.open(srv.url, {
          meetingId: opened.meetingId,
          auth: {
            protocol: PROTOCOL_VERSION,
            meetingId: opened.meetingId,
            token: removedAdmission.personalToken,
            pid: second.socket.id ?? 'x',
            offset: '0',
          },
        }),
      ];
      const outcomes = await Promise.all(tries.map((p) => p.outcome()));
      expect(outcomes).toEqual(['no-access', 'no-access', 'no-access', expect.stringMatching(/^(no-access|invalid)$/)]);
      expect(srv.app.meetings.peek(opened.meetingId)!.here()).toEqual([opened.participantId]);
      // Their words stay, marked.
      expect(f.log(removedAdmission.participantId).map((e) => (e.t === 'say' ? e.text : ''))).toEqual([
        'words that stay',
      ]);
      await until(() => f.people.get(removedAdmission.participantId)?.removed === true, 'marked removed');
    });

    it('a revoked personal link disconnects every device at once; the old link and its sessions no longer work', async () => {
      const opened = await openMeeting(srv, 'Facilitator');
      const admission = await join(srv, opened, 'Lost a phone');
      const phone = await connect(srv, admission);
      const session = await api(`${srv.url}/api/session`, 'POST', { token: admission.personalToken });
      const cookie = session.headers.getSetCookie()[0]!.split(';')[0]!;
      const laptop = Peer.open(srv.url, { meetingId: opened.meetingId, headers: { cookie } });
      expect(await laptop.outcome()).toBe('welcome');

      const t0 = Date.now();
      const revoked = await api<{ personalToken: string }>(
        `${srv.url}/api/me/revoke`,
        'POST',
        {},
        { authorization: `Bearer ${admission.personalToken}` },
      );
      expect(revoked.status).toBe(200);
      await until(
        () => phone.status !== 'connected' && laptop.disconnectReason !== null,
        'every device disconnected at once',
        2000,
      );
      console.log(`[hostile] revoked link: every device disconnected ${Date.now() - t0} ms after the request`);

      phone.socket.connect();
      await until(() => phone.status === 'refused', 'old link refused');
      expect(phone.connectError?.code).toBe('no-access');
      expect(await Peer.open(srv.url, { meetingId: opened.meetingId, headers: { cookie } }).outcome()).toBe(
        'no-access',
      );
      expect(
        await Peer.open(srv.url, {
          meetingId: opened.meetingId,
          token: admission.personalToken,
          polling: true,
        }).outcome(),
      ).toBe('no-access');
      expect((await api(`${srv.url}/api/session`, 'POST', { token: admission.personalToken })).status).toBe(404);
      // The new link works, as the same participant.
      const fresh = Peer.open(srv.url, { meetingId: opened.meetingId, token: revoked.body.personalToken });
      expect(await fresh.outcome()).toBe('welcome');
      expect(fresh.me).toBe(admission.participantId);
    });
  });
});
