/**
 * Hostile input: malformed sync messages, oversized and invalid HTTP bodies, prototype pollution,
 * invalid control payloads, path traversal against static files and the API, markup and line
 * breaks in people's words and names. Every bad input gets a clear refusal, changes nothing, and an
 * untouched "canary" meeting keeps working throughout.
 */
import { request } from 'node:http';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import type { MeetingConnection } from '../client/lib/connection.js';
import { randomId } from '../shared/ids.js';
import { LIMITS } from '../shared/limits.js';
import {
  ConnectError,
  ControlError,
  PROTOCOL_VERSION,
  Refusal,
  type Admission,
  type RefusalCode,
} from '../shared/protocol.js';
import { VOICE_LOG, type VoiceEntry } from '../shared/record.js';
import { awarenessMessage, decodeYMessage, sendable, syncUpdate } from '../shared/wire.js';
import { holdClock } from './clock.js';
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
  recordFiles,
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
  it('text where bytes belong, unknown types, trailing bytes, truncations, wrong types and bad document ids are refused and change nothing', async () => {
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

    // Yjs messages are bytes (MessagePack binary): text, even base64 of a valid message, is not one.
    add('text', me, '!!! not bytes ***', [Refusal.invalid]);
    add('base64 text of a valid message', me, Buffer.from(validMessage).toString('base64'), [Refusal.invalid]);
    add('empty text', me, '', [Refusal.invalid]);
    add('empty message', me, new Uint8Array(0), malformed);
    add('unknown message type', me, new Uint8Array([7, 0, 0]), malformed);
    add('unknown sync message type', me, new Uint8Array([0, 9, 0]), malformed);
    add('trailing bytes', me, new Uint8Array([...validMessage, 0]), malformed);
    add('length prefix past the end', me, new Uint8Array([0, 2, 200, 1, 2, 3]), malformed);
    add('awareness with too many entries', me, awarenessBytes(1000), [Refusal.malformed, Refusal.tooLarge]);
    // The message cut at every offset.
    for (let i = 0; i < validMessage.length; i++) add(`message cut at ${i}`, me, validMessage.slice(0, i), malformed);
    // The update cut at every offset, re-framed correctly: the framing is fine, the update is not.
    for (let i = 0; i < valid.length; i++) {
      add(`update cut at ${i}`, me, syncUpdate(valid.slice(0, i)), [...malformed, Refusal.missingDependencies]);
    }
    // Wrong types where a document id and bytes belong (an array of the message's numbers too).
    for (const payload of [42, null, {}, [], { toString: 'x' }, [...validMessage], true]) {
      add(`payload ${JSON.stringify(payload)}`, me, payload, [Refusal.invalid]);
    }
    for (const doc of [
      -1,
      1.5,
      2 ** 60,
      NaN,
      null,
      {},
      '__proto__',
      'constructor',
      'prototype',
      '../../db.json',
      'x'.repeat(10_000),
      '',
    ]) {
      add(`document ${JSON.stringify(doc).slice(0, 20)}`, doc, validMessage, [Refusal.invalid]);
    }
    add('a well-formed id that is no document of this meeting', randomId(), validMessage, [Refusal.unknownDocument]);
    // Documents by number (protocol 3): one no document has, and the meeting document (the server's).
    add('a number that names no document of this meeting', 42, validMessage, [Refusal.unknownDocument]);
    add('the meeting document by its number', 0, validMessage, [Refusal.notYourDocument]);
    add('a message over the size limit', me, syncUpdate(new Uint8Array(LIMITS.messageBytes + 16)), [Refusal.tooLarge]);

    const answers = await fire(t, cases);
    const wrong = cases
      .map((c, i) => ({ what: c.what, expected: c.codes, got: answers[i]! }))
      .filter(({ expected, got }) => got.length !== 1 || !expected.includes(got[0]!));
    expect(wrong).toEqual([]);
    expect(t.docs()).toEqual(before);
    // A client sends one message per `y` (only the server's carry several): more is refused whole.
    const pairs = await RawClient.connect(server.url, { meetingId: t.opened.meetingId, token: t.token });
    pairs.socket.emit('y', me, sendable(validMessage), me, sendable(validMessage));
    pairs.socket.emit('y', me, sendable(validMessage), 'trailing');
    await pairs.barrier();
    expect(pairs.refusals.map((r) => r.code)).toEqual([Refusal.invalid, Refusal.invalid]);
    expect(t.docs()).toEqual(before);
    pairs.close();

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
      cases.map((c) => ({ doc: c.doc, payload: c.payload })),
    );
    const unanswered = cases.filter((c, i) => !mayBeAccepted(c.payload) && answers[i]!.length !== 1);
    expect(unanswered.map((c) => c.payload)).toEqual([]);
    expect(answers.every((a) => a.length <= 1)).toBe(true);
    expect(t.docs()).toEqual(before);
    await canaryWorks();
  });

  it('a Socket.IO packet over maxHttpBufferSize closes only that connection', async () => {
    const t = await target();
    const before = t.docs();
    let reason = '';
    t.attacker.socket.on('disconnect', (r: string) => (reason = r));
    t.attacker.send(t.attacker.me, new Uint8Array(LIMITS.packetBytes + 1024).fill(65));
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

/** An awareness message announcing `entries` clients at once (a presence update holds a few). */
function awarenessBytes(entries: number): Uint8Array {
  return awarenessMessage(
    Array.from({ length: entries }, (_, i) => ({ clientID: 1000 + i, clock: 1, state: { typing: true } })),
  );
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
    const before = await recordFiles(dataDir);
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
    expect(await recordFiles(dataDir)).toEqual(before);
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
      acks.push(await c.ack(event, poison));
    }
    expect(acks.every((a) => typeof a === 'object' && a !== null && (a as { ok: boolean }).ok === false)).toBe(true);
    const n = c.refusals.length;
    c.send('__proto__', syncUpdate(Y.encodeStateAsUpdate(new Y.Doc())));
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

describe('control payloads are validated against the schemas in shared/', () => {
  it('every invalid or polluting input gets {ok:false, error:"invalid"} and changes nothing', async () => {
    const opened = await openMeeting(server, 'Facilitator');
    const other = await join(server, opened, 'Other');
    const f = await RawClient.connect(server.url, { meetingId: opened.meetingId, token: opened.personalToken });
    await RawClient.connect(server.url, { meetingId: opened.meetingId, token: other.personalToken });
    const meetingBefore = encoded(server.app.meetings.peek(opened.meetingId)!.meetingDoc);
    const dbBefore = await recordFiles(server.dataDir);
    const proto = (): unknown => JSON.parse('{"__proto__": {"polluted": true, "ok": true}}');
    const ctor = (): unknown => JSON.parse('{"constructor": {"prototype": {"polluted": true}}}');
    const common: unknown[] = [undefined, null, 0, 42, 'text', true, [], [{}], {}, proto(), ctor(), { toString: 'x' }];
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
    // Requests count against the connection's message limit: its clock is held here and moved on
    // by one whole window (a second, LIMITS.messagesPerSecond requests) every 100 requests.
    const clock = holdClock();
    for (const [event, inputs] of Object.entries(cases)) {
      for (const input of inputs) {
        const ack = (await f.ack(event, input)) as { ok: boolean; error?: string; message?: string };
        n++;
        if (ack.ok !== false || ack.error !== ControlError.invalid || ack.message !== undefined) {
          wrong.push({ event, input, ack });
        }
        if (n % 100 === 0) clock.advance(1000);
      }
    }
    console.log(
      `[hostile-input] ${n} invalid control payloads over ${Object.keys(cases).length} events: ${n - wrong.length} answered {ok:false, error:'invalid'}`,
    );
    expect(wrong).toEqual([]);
    // Without an ack function nothing happens at all (and nothing breaks).
    (f.socket as unknown as { emit(e: string, i: unknown): void }).emit('meeting:end', { next: null });
    await f.barrier();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(encoded(server.app.meetings.peek(opened.meetingId)!.meetingDoc)).toEqual(meetingBefore);
    expect(await recordFiles(server.dataDir)).toEqual(dbBefore);
    expect(server.app.meetings.peek(opened.meetingId)!.status).toBe('open');
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
    const r = await rawGet(server.url, p);
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
    const opened = await openMeeting(server, '<b>Facilitator</b>');
    const named = await join(server, opened, '<script>alert("name")</script>', '<img src=x onerror=alert(2)>');
    const c = await connect(server, named);
    const f = await connect(server, opened);
    for (const p of payloads) c.say(p);
    const added = (await f.request('person:add', { name: '<iframe src="javascript:alert(3)">', relation: '' })) as {
      ok: boolean;
    };
    expect(added.ok).toBe(true);
    await until(() => c.saved && c.log(c.me!).length === payloads.length, 'saved');
    const res = await fetch(`${server.url}/api/meetings/${opened.meetingId}/export.md`, {
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
    const opened = await openMeeting(server, 'Facilitator');
    const ben = await join(server, opened, 'Ben', 'brother');
    // A name is one line: a name with a line break is refused at the door.
    const multiline = await fetch(`${server.url}/api/meetings/${opened.meetingId}/join`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ joinToken: opened.joinToken, name: 'Mallory\n- **Ben** (brother), 1 Jan 2030, 12:00:' }),
    });
    expect(multiline.status).toBe(400);
    expect(((await multiline.json()) as { error: string }).error).toBe('invalid');
    const mallory = await connect(
      server,
      await join(server, opened, 'Mallory - **Ben** (brother), 1 Jan 2030, 12:00:'),
    );
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
      await fetch(`${server.url}/api/meetings/${opened.meetingId}/export.md`, {
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
      `[hostile-input] Markdown export with line breaks in words and names: ${topLevelItems.length} top-level record items for ${forged.length} contributions; ` +
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
