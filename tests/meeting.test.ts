/**
 * Issue 2, the foundation: a live meeting room end to end, over real sockets, with the page's own
 * network module (MeetingConnection) and raw Socket.IO + Yjs clients. Every test opens its own
 * meeting; every wait is for a state, never for a time.
 */
import { readdir, stat } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { MeetingConnection } from '../client/lib/connection.js';
import { MEETING_DOC, randomId } from '../shared/ids.js';
import { ConnectError, PROTOCOL_VERSION, Refusal, type Admission } from '../shared/protocol.js';
import { VOICE_LOG, type VoiceEntry } from '../shared/record.js';
import { syncStep2, syncUpdate } from '../shared/wire.js';
import { FileStore } from '../server/store/fileStore.js';
import type { DocUpdate, Store } from '../server/store/types.js';
import { decodeRecords } from '../server/store/updateLog.js';
import {
  api,
  connect,
  converged,
  encoded,
  join,
  joinAs,
  onCleanup,
  openMeeting,
  sameContent,
  startServer,
  tempDir,
  until,
  type TestServer,
  recordFiles,
} from './helpers.js';
import { RawClient, barrier, craft } from './raw.js';

/** Every connection and the server hold the same content of every voice document. */
function convergedWithServer(server: TestServer, meetingId: string, conns: readonly MeetingConnection[]): boolean {
  if (!converged(conns)) return false;
  const docs = server.app.meetings.peek(meetingId)?.voiceDocs();
  if (!docs) return false;
  for (const c of conns) {
    for (const [id, doc] of docs) {
      const mine = c.voices.get(id);
      if (!mine || !sameContent(mine, doc)) return false;
    }
  }
  return true;
}

function texts(c: MeetingConnection): string[] {
  return c.record().items.map((i) => i.text);
}

async function people(server: TestServer, opened: Admission, n: number): Promise<MeetingConnection[]> {
  const conns = [await connect(server, opened)];
  for (let i = 1; i < n; i++) conns.push(await joinAs(server, opened, `Person ${i}`, `relation ${i}`));
  return conns;
}

describe('participants converge', () => {
  it('[S9] two participants: every voice document identical everywhere, the same merged record in server order', async () => {
    const server = await startServer();
    const opened = await openMeeting(server);
    const [fac, anna] = (await people(server, opened, 2)) as [MeetingConnection, MeetingConnection];
    for (let i = 0; i < 5; i++) {
      fac.say(`facilitator ${i}`);
      anna.say(`anna ${i}`);
    }
    await until(
      () =>
        convergedWithServer(server, opened.meetingId, [fac, anna]) &&
        fac.record().items.length === 10 &&
        anna.record().items.length === 10,
      'two-way convergence',
    );
    expect(texts(anna)).toEqual(texts(fac));
    expect(anna.record().items.map((i) => i.ref)).toEqual(fac.record().items.map((i) => i.ref));
    // Server-observed order: every item has a server time, and both see the same order marks.
    expect(fac.record().items.every((i) => i.at !== null)).toBe(true);
    expect(anna.order).toEqual(fac.order);
    await until(() => fac.saved && anna.saved, 'saved');
  });

  it('five participants writing at once converge on one record', async () => {
    const server = await startServer();
    const opened = await openMeeting(server);
    const conns = await people(server, opened, 5);
    conns.forEach((c, i) => {
      for (let k = 0; k < 4; k++) c.say(`voice ${i} says ${k}`);
    });
    await until(
      () => convergedWithServer(server, opened.meetingId, conns) && conns.every((c) => c.record().items.length === 20),
      'five-way convergence',
    );
    const reference = conns[0]!.record().items.map((i) => `${i.ref}:${i.text}`);
    for (const c of conns) expect(c.record().items.map((i) => `${i.ref}:${i.text}`)).toEqual(reference);
    // Each voice's words are in that voice's document only, in the order written.
    for (const c of conns) {
      const i = conns.indexOf(c);
      expect(conns[0]!.log(c.me!).map((e) => (e.t === 'say' ? e.text : ''))).toEqual(
        [0, 1, 2, 3].map((k) => `voice ${i} says ${k}`),
      );
    }
    // Everyone lists everyone, with the names they gave.
    for (const c of conns) expect(new Set(c.people.keys())).toEqual(new Set(conns.map((x) => x.me)));
    expect(conns[3]!.people.get(conns[2]!.me!)?.name).toBe('Person 2');
    await until(() => conns.every((c) => c.saved), 'everyone saved');
  });

  it('a late joiner loads everything said before they came', async () => {
    const server = await startServer();
    const opened = await openMeeting(server);
    const [a, b] = (await people(server, opened, 2)) as [MeetingConnection, MeetingConnection];
    a.say('before you came');
    b.say('me too');
    await until(() => converged([a, b]) && a.record().items.length === 2, 'first two');
    const late = await joinAs(server, opened, 'Late');
    await until(
      () => convergedWithServer(server, opened.meetingId, [a, b, late]) && late.record().items.length === 2,
      'late joiner',
    );
    expect(texts(late)).toEqual(texts(a));
  });
});

describe('presence', () => {
  it('[S7] join and leave are seen by all', async () => {
    const server = await startServer();
    const opened = await openMeeting(server);
    const conns = await people(server, opened, 4);
    const ids = conns.map((c) => c.me!);
    await until(() => conns.every((c) => c.here.length === 4), 'all four here');
    for (const c of conns) expect(new Set(c.here)).toEqual(new Set(ids));

    const leaving = conns[2]!;
    leaving.close();
    const stay = conns.filter((c) => c !== leaving);
    await until(() => stay.every((c) => c.here.length === 3), 'leave seen');
    for (const c of stay) expect(new Set(c.here)).toEqual(new Set(ids.filter((id) => id !== leaving.me)));
    // Who has left is still a person of the meeting (their words stay).
    for (const c of stay) expect(c.people.has(leaving.me!)).toBe(true);

    const comer = await joinAs(server, opened, 'Newcomer');
    const all = [...stay, comer];
    await until(() => all.every((c) => c.here.length === 4 && c.here.includes(comer.me!)), 'newcomer seen');
  });

  it('"is writing" is shown to everyone and cleared when the writer leaves', async () => {
    const server = await startServer();
    const opened = await openMeeting(server);
    const [a, b, c] = (await people(server, opened, 3)) as [MeetingConnection, MeetingConnection, MeetingConnection];
    a.setTyping(true);
    await until(() => b.writing(a.me!) && c.writing(a.me!), 'typing seen');
    a.setTyping(false);
    await until(() => !b.writing(a.me!) && !c.writing(a.me!), 'typing stopped');
    a.setTyping(true);
    await until(() => b.writing(a.me!) && c.writing(a.me!), 'typing seen again');
    a.close();
    await until(() => !b.writing(a.me!) && !c.writing(a.me!), 'typing cleared on leave');
  });
});

describe('amend, withdraw, answer', () => {
  it("[S3] amend and withdraw of one's own words are seen by all, with every version kept", async () => {
    const server = await startServer();
    const opened = await openMeeting(server);
    const [a, b, c] = (await people(server, opened, 3)) as [MeetingConnection, MeetingConnection, MeetingConnection];
    const first = a.say('I think we should wait.');
    const second = a.say('Something I regret saying.');
    a.amend(first, 'I think we should wait a week.');
    a.amend(first, 'I think we should wait two weeks.');
    a.withdraw(second);
    await until(
      () =>
        convergedWithServer(server, opened.meetingId, [a, b, c]) &&
        b.log(a.me!).length === 5 &&
        c.log(a.me!).length === 5,
      'amendments',
    );
    for (const view of [a, b, c]) {
      const item = view.record().byRef.get(`${a.me}/${first}`)!;
      expect(item.text).toBe('I think we should wait two weeks.');
      expect(item.versions.map((v) => v.text)).toEqual([
        'I think we should wait.',
        'I think we should wait a week.',
        'I think we should wait two weeks.',
      ]);
      expect(item.versions.every((v) => v.at !== null)).toBe(true);
      const gone = view.record().byRef.get(`${a.me}/${second}`)!;
      expect(gone.withdrawn).not.toBeNull();
      // Withdrawn words stay in the record, visibly withdrawn.
      expect(gone.text).toBe('Something I regret saying.');
      expect(view.record().items.map((i) => i.ref)).toContain(gone.ref);
    }
    // The history is in the log itself: nothing was deleted.
    expect(b.log(a.me!).map((e) => e.t)).toEqual(['say', 'say', 'amend', 'amend', 'withdraw']);
  });

  it("[S10] nobody can amend or withdraw another person's words: such entries in one's own voice change nothing", async () => {
    const server = await startServer();
    const opened = await openMeeting(server);
    const [a, b] = (await people(server, opened, 2)) as [MeetingConnection, MeetingConnection];
    const said = a.say('My own words.');
    await until(() => b.record().byRef.has(`${a.me}/${said}`), 'seen');
    // b writes entries that point at a's entry id from b's own document (the only one b can write).
    b.amend(said, 'Words put in your mouth.');
    b.withdraw(said);
    await until(() => converged([a, b]) && a.log(b.me!).length === 2, "b's entries arrive");
    for (const view of [a, b]) {
      const item = view.record().byRef.get(`${a.me}/${said}`)!;
      expect(item.text).toBe('My own words.');
      expect(item.versions).toHaveLength(1);
      expect(item.withdrawn).toBeNull();
    }
  });

  it('answers and different views attach to what they answer, side by side', async () => {
    const server = await startServer();
    const opened = await openMeeting(server);
    const [doc, mum, gp] = (await people(server, opened, 3)) as [
      MeetingConnection,
      MeetingConnection,
      MeetingConnection,
    ];
    const said = doc.say('Medication could help now.');
    await until(
      () => mum.record().byRef.has(`${doc.me}/${said}`) && gp.record().byRef.has(`${doc.me}/${said}`),
      'seen',
    );
    const ref = `${doc.me}/${said}`;
    const answer = mum.say('I am worried about side effects.', { re: ref, view: 'answer' });
    // Answers stand in server order: let the first reach the server before the second is written.
    await until(() => gp.record().byRef.get(`${mum.me}/${answer}`)?.seq != null, 'answer received');
    const different = gp.say('I see it differently: we could wait and meet daily.', { re: ref, view: 'different' });
    const unrelated = mum.say('Shall we have tea?');
    await until(
      () =>
        convergedWithServer(server, opened.meetingId, [doc, mum, gp]) &&
        doc.record().byRef.size === 4 &&
        gp.record().byRef.size === 4,
      'answers',
    );
    for (const view of [doc, mum, gp]) {
      const rec = view.record();
      expect(rec.items.map((i) => i.ref)).toEqual([ref, `${mum.me}/${unrelated}`]);
      const target = rec.byRef.get(ref)!;
      expect(target.answers.map((x) => [x.ref, x.view])).toEqual([
        [`${mum.me}/${answer}`, 'answer'],
        [`${gp.me}/${different}`, 'different'],
      ]);
      expect(rec.byRef.get(`${gp.me}/${different}`)!.re).toBe(ref);
    }
  });
});

describe("nobody writes another person's words", () => {
  it("[S1] a write to another participant's voice document is refused and changes nothing, on the server and on every client", async () => {
    const server = await startServer();
    const opened = await openMeeting(server);
    const [a, b] = (await people(server, opened, 2)) as [MeetingConnection, MeetingConnection];
    a.say('These are my words.');
    await until(() => convergedWithServer(server, opened.meetingId, [a, b]) && b.log(a.me!).length === 1, 'seen');
    const intruderAdm = await join(server, opened, 'Intruder');
    const intruder = await RawClient.connect(server.url, {
      meetingId: opened.meetingId,
      token: intruderAdm.personalToken,
    });
    const target = await intruder.pull(a.me!);

    const serverDoc = () => server.app.meetings.peek(opened.meetingId)!.voiceDocs().get(a.me!);
    const before = { server: encoded(serverDoc()), a: encoded(a.voices.get(a.me!)), b: encoded(b.voices.get(a.me!)) };

    const forged = craft(target, (d) =>
      d
        .getArray<VoiceEntry>(VOICE_LOG)
        .push([{ t: 'say', id: 'forged-0001', text: 'I never said this.', at: Date.now() }]),
    );
    const erase = craft(target, (d) => d.getArray(VOICE_LOG).delete(0, 1));
    const n = intruder.refusals.length;
    intruder.send(a.me!, syncUpdate(forged.update));
    intruder.send(a.me!, syncStep2(forged.doc));
    intruder.send(a.me!, syncUpdate(erase.update));
    await intruder.barrier();
    await barrier(a.socket);
    await barrier(b.socket);

    expect(intruder.refusalsSince(n).map((r) => [r.doc, r.code])).toEqual([
      [a.me, Refusal.notYourDocument],
      [a.me, Refusal.notYourDocument],
      [a.me, Refusal.notYourDocument],
    ]);
    expect(encoded(serverDoc())).toEqual(before.server);
    expect(encoded(a.voices.get(a.me!))).toEqual(before.a);
    expect(encoded(b.voices.get(a.me!))).toEqual(before.b);
    expect(b.log(a.me!).map((e) => (e.t === 'say' ? e.text : e.t))).toEqual(['These are my words.']);

    // The honest participants carry on.
    a.say('Still here.');
    b.say('Me too.');
    await until(
      () => convergedWithServer(server, opened.meetingId, [a, b]) && b.record().items.length === 3,
      'carry on',
    );
    await until(() => a.saved && b.saved, 'saved');
  });

  it('[S2] writes to the server-only meeting document are refused and change nothing', async () => {
    const server = await startServer();
    const opened = await openMeeting(server);
    const [a] = (await people(server, opened, 1)) as [MeetingConnection];
    const mallory = await RawClient.connect(server.url, {
      meetingId: opened.meetingId,
      token: (await join(server, opened, 'Mallory')).personalToken,
    });
    const meetingDoc = () => server.app.meetings.peek(opened.meetingId)!.meetingDoc;
    // Something in the order, so that deleting it is a change (an update that changes nothing is a no-op).
    a.say('Placed in the order.');
    await until(() => a.people.size === 2 && a.order.length === 1, 'people listed, words placed');
    await barrier(a.socket);
    const base = await mallory.pull(MEETING_DOC);
    await server.app.meetings.peek(opened.meetingId)!.flushed();
    const before = { server: encoded(meetingDoc()), a: encoded(a.meetingDoc) };

    const rename = craft(base, (d) =>
      d.getMap('people').set(a.me!, { name: 'Someone else', relation: '', aboutMe: false, joinedAt: 0 }),
    );
    const close = craft(base, (d) => d.getMap('state').set('status', 'ended'));
    const reorder = craft(base, (d) => d.getArray('order').delete(0, d.getArray('order').length));
    const n = mallory.refusals.length;
    for (const u of [rename, close, reorder]) mallory.send(MEETING_DOC, syncUpdate(u.update));
    mallory.send(MEETING_DOC, syncStep2(rename.doc));
    await mallory.barrier();
    await barrier(a.socket);
    expect(mallory.refusalsSince(n).map((r) => [r.doc, r.code])).toEqual(
      Array(4).fill([MEETING_DOC, Refusal.notYourDocument]),
    );
    expect(encoded(meetingDoc())).toEqual(before.server);
    expect(encoded(a.meetingDoc)).toEqual(before.a);
    expect(a.people.get(a.me!)?.name).toBe('Facilitator');
    expect(a.state.status).toBe('open');
  });
});

/** Every file under a directory with its size and modification time. */
async function listing(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const full = path.join(entry.parentPath, entry.name);
    const st = await stat(full);
    out.push(`${path.relative(dir, full)} ${entry.isDirectory() ? 'dir' : `${st.size} ${st.mtimeMs}`}`);
  }
  return out.sort();
}

describe('no access', () => {
  it('an unknown meeting id or a bad token gets the same clear connect error and creates nothing', async () => {
    const server = await startServer();
    const opened = await openMeeting(server);
    const other = await openMeeting(server);
    const otherJoin = await join(server, other, 'Elsewhere');
    // The session cookie of a participant of the other meeting.
    const otherCookie = await cookieOf(server, otherJoin.personalToken);
    const a = await connect(server, opened);
    a.close();
    await until(() => server.app.meetings.peek(opened.meetingId) === undefined, 'meeting unloaded');
    const before = { files: await listing(server.dataDir), db: await recordFiles(server.dataDir) };

    const unknown = randomId();
    const attempts: Array<[string, ConstructorParameters<typeof RawClient>[1]]> = [
      ['unknown meeting, random token', { meetingId: unknown, token: randomId() }],
      ['unknown meeting, a valid token of another meeting', { meetingId: unknown, token: opened.personalToken }],
      ['known meeting, random token', { meetingId: opened.meetingId, token: randomId() }],
      [
        'known meeting, the join token instead of a personal token',
        { meetingId: opened.meetingId, token: opened.joinToken },
      ],
      ['known meeting, a token of another meeting', { meetingId: opened.meetingId, token: otherJoin.personalToken }],
      ['known meeting, no token and no cookie', { meetingId: opened.meetingId }],
      [
        'known meeting, the session cookie of another meeting',
        { meetingId: opened.meetingId, headers: { cookie: otherCookie } },
      ],
      [
        'known meeting, a forged session cookie',
        { meetingId: opened.meetingId, headers: { cookie: `pp_session=${randomId()}` } },
      ],
    ];
    const outcomes = [];
    for (const [what, opts] of attempts) {
      const c = new RawClient(server.url, opts);
      const outcome = await c.outcome();
      c.close();
      outcomes.push([what, outcome]);
    }
    const expected = { code: ConnectError.noAccess, message: ConnectError.noAccess };
    for (const [what, outcome] of outcomes) expect({ what, outcome }).toEqual({ what, outcome: expected });
    // All identical, so nothing tells a meeting that exists from one that does not.
    expect(new Set(outcomes.map(([, o]) => JSON.stringify(o))).size).toBe(1);

    expect(server.app.meetings.peek(unknown)).toBeUndefined();
    expect(server.app.meetings.peek(opened.meetingId)).toBeUndefined();
    expect(await server.app.store.meeting(unknown)).toBeUndefined();
    expect(await listing(server.dataDir)).toEqual(before.files);
    expect(await recordFiles(server.dataDir)).toEqual(before.db);
  });

  it('the join endpoint answers a wrong join token, an unknown meeting and a malformed id identically', async () => {
    const server = await startServer();
    const opened = await openMeeting(server);
    const body = { joinToken: randomId(), name: 'Someone' };
    const cases = {
      wrongToken: await api(`${server.url}/api/meetings/${opened.meetingId}/join`, 'POST', body),
      unknownMeeting: await api(`${server.url}/api/meetings/${randomId()}/join`, 'POST', {
        ...body,
        joinToken: opened.joinToken,
      }),
      malformedShort: await api(`${server.url}/api/meetings/abc/join`, 'POST', {
        ...body,
        joinToken: opened.joinToken,
      }),
      malformedProto: await api(`${server.url}/api/meetings/__proto__/join`, 'POST', {
        ...body,
        joinToken: opened.joinToken,
      }),
      malformedLong: await api(`${server.url}/api/meetings/${opened.meetingId}x/join`, 'POST', {
        ...body,
        joinToken: opened.joinToken,
      }),
    };
    const shape = (r: { status: number; body: unknown; headers: Headers }) => ({
      status: r.status,
      body: r.body,
      type: r.headers.get('content-type'),
      cookie: r.headers.get('set-cookie'),
    });
    const reference = shape(cases.wrongToken);
    expect(reference.status).toBe(404);
    expect(reference.body).toEqual({ error: 'no-access' });
    expect(reference.cookie).toBeNull();
    for (const [name, r] of Object.entries(cases)) expect({ name, ...shape(r) }).toEqual({ name, ...reference });
    expect(await server.app.store.participants(opened.meetingId)).toHaveLength(1);
  });
});

async function cookieOf(server: TestServer, personalToken: string): Promise<string> {
  const r = await api<{ meetingId: string }>(`${server.url}/api/session`, 'POST', { token: personalToken });
  if (r.status !== 200) throw new Error(`session failed: ${r.status}`);
  return cookieHeader(r.headers);
}

function cookieHeader(headers: Headers): string {
  const set = headers.getSetCookie();
  expect(set).toHaveLength(1);
  const cookie = set[0]!;
  expect(cookie).toMatch(/HttpOnly/i);
  expect(cookie).toMatch(/SameSite=Strict/i);
  return cookie.split(';')[0]!;
}

describe('credentials', () => {
  it('a personal token in the handshake and the session cookie from joining both admit, as the same participant', async () => {
    const server = await startServer();
    const opened = await openMeeting(server);
    const r = await api<Admission>(`${server.url}/api/meetings/${opened.meetingId}/join`, 'POST', {
      joinToken: opened.joinToken,
      name: 'Cookie person',
    });
    expect(r.status).toBe(201);
    const cookie = cookieHeader(r.headers);
    expect(cookie).not.toContain(r.body.personalToken);

    const byToken = await connect(server, r.body);
    const byCookie = new MeetingConnection({
      url: server.url,
      meetingId: opened.meetingId,
      socket: { forceNew: true, transports: ['websocket'], extraHeaders: { cookie } },
    });
    onCleanup(() => byCookie.close());
    await until(() => byCookie.me !== null && byCookie.status === 'connected', 'cookie connection');
    expect(byCookie.me).toBe(r.body.participantId);
    expect(byToken.me).toBe(r.body.participantId);

    // Both connections are the same voice: what one writes, the other holds as its own.
    const fac = await connect(server, opened);
    byCookie.say('Written with the cookie.');
    byToken.say('Written with the token.');
    await until(
      () => converged([fac, byCookie, byToken]) && fac.log(r.body.participantId).length === 2,
      'both write one voice',
    );
    await until(() => byCookie.saved && byToken.saved, 'saved on both');
    // (Who is here arrives in its own message: wait for it rather than assume it came first.)
    await until(
      () => sameSet(new Set(fac.here), new Set([opened.participantId, r.body.participantId])),
      () => `fac sees ${JSON.stringify(fac.here)}`,
    );
  });

  it('a personal link exchanged at /api/session gives a cookie that admits to that meeting only', async () => {
    const server = await startServer();
    const opened = await openMeeting(server);
    const other = await openMeeting(server);
    const cookie = await cookieOf(server, opened.personalToken);
    const ok = new RawClient(server.url, { meetingId: opened.meetingId, headers: { cookie } });
    expect(await ok.outcome()).toBeNull();
    expect(ok.me).toBe(opened.participantId);
    const no = new RawClient(server.url, { meetingId: other.meetingId, headers: { cookie } });
    expect(await no.outcome()).toMatchObject({ code: ConnectError.noAccess });
  });

  it('another protocol version gets a clear error', async () => {
    const server = await startServer();
    const opened = await openMeeting(server);
    const c = new RawClient(server.url, {
      meetingId: opened.meetingId,
      auth: { protocol: PROTOCOL_VERSION + 1, meetingId: opened.meetingId, token: opened.personalToken },
    });
    expect(await c.outcome()).toMatchObject({ code: ConnectError.protocolVersion });
  });
});

/** A real FileStore whose appends can be held back: the test decides when the disk "finishes". */
class HeldStore {
  held = false;
  readonly waiting: Array<{ updates: readonly DocUpdate[]; release: () => void }> = [];
  constructor(readonly inner: FileStore) {}
  store(): Store {
    const inner = this.inner;
    return new Proxy(inner, {
      get: (target, prop, receiver) => {
        if (prop === 'appendUpdates') {
          return async (meetingId: string, updates: readonly DocUpdate[]) => {
            await inner.appendUpdates(meetingId, updates);
            if (this.held) await new Promise<void>((release) => this.waiting.push({ updates, release }));
          };
        }
        const value: unknown = Reflect.get(target, prop, receiver);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
  }
  release(): void {
    this.held = false;
    for (const w of this.waiting.splice(0)) w.release();
  }
}

describe('"saved" means on disk', () => {
  it('every "saved" a writer receives is already in the meeting\'s update log on disk', async () => {
    const server = await startServer();
    const opened = await openMeeting(server);
    const [a, b] = (await people(server, opened, 2)) as [MeetingConnection, MeetingConnection];
    const file = path.join(server.dataDir, 'meetings', `${opened.meetingId}.ylog`);
    const checks: string[] = [];
    a.socket.on('saved', (doc: string) => {
      if (doc !== a.me || !a.saved) return;
      // Synchronously, at the moment "saved" is shown: replay the log on disk.
      const replay = new Y.Doc();
      const { updates } = decodeRecords(readFileSync(file), file);
      for (const u of updates) if (u.doc === a.me) Y.applyUpdate(replay, u.update);
      const onDisk = new Set(
        replay
          .getArray<VoiceEntry>(VOICE_LOG)
          .toArray()
          .map((e) => e.id),
      );
      const missing = a.log(a.me).filter((e) => !onDisk.has(e.id));
      checks.push(missing.length === 0 ? 'ok' : `missing ${missing.length}`);
    });
    for (let i = 0; i < 30; i++) a.say(`entry ${i}`);
    await until(() => a.saved && converged([a, b]) && b.log(a.me!).length === 30, 'saved');
    expect(checks.length).toBeGreaterThan(0);
    expect(checks.filter((c) => c !== 'ok')).toEqual([]);
  });

  it('no "saved" while the store has not finished the append; "saved" once it has', async () => {
    const dataDir = await tempDir();
    const held = new HeldStore(await FileStore.open(dataDir));
    const server = await startServer({ dataDir, store: held.store() });
    const opened = await openMeeting(server);
    const [a, b] = (await people(server, opened, 2)) as [MeetingConnection, MeetingConnection];
    await until(() => a.saved && b.saved, 'initially saved');
    await server.app.meetings.peek(opened.meetingId)!.flushed();
    let savedEvents = 0;
    a.socket.on('saved', () => savedEvents++);

    held.held = true;
    const id = a.say('Hold on to this.');
    // b has the words (the server applied and broadcast them), the store append is held.
    await until(() => b.log(a.me!).some((e) => e.id === id), 'b sees it');
    await until(() => held.waiting.some((w) => w.updates.some((u) => u.doc === a.me)), 'append reached the store');
    await barrier(a.socket);
    expect(a.saved).toBe(false);
    expect(savedEvents).toBe(0);

    held.release();
    await until(() => a.saved, 'saved after the append');
    expect(savedEvents).toBeGreaterThan(0);
  });
});

function sameSet<T>(a: ReadonlySet<T>, b: ReadonlySet<T>): boolean {
  return a.size === b.size && [...a].every((x) => b.has(x));
}
