/**
 * Order marks as the meeting document stores them, and who is sent what when someone writes:
 * - a person's number names their voice in a mark (`[n, id, at − openedAt]`), numbers given in
 *   order of joining and never reused;
 * - a meeting stored before numbers existed (people without one, marks as objects) loads with its
 *   order intact, its people numbered, and new marks in the short form after the old ones;
 * - the writer's connection gets the marks its update caused, not its own update back; everyone
 *   else, its other devices included, gets both in one frame.
 */
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { MEETING_DOC, randomEntryId } from '../shared/ids.js';
import {
  MEETING_ORDER,
  MEETING_PEOPLE,
  VOICE_LOG,
  readOrder,
  voiceNumbers,
  type OrderMark,
  type Person,
  type VoiceEntry,
} from '../shared/record.js';
import { DocNames, syncUpdate } from '../shared/wire.js';
import { openStore } from '../server/store/open.js';
import { connect, join, openMeeting, serverDoc, startServer, tempDir, until } from './helpers.js';
import { RawClient, craft } from './raw.js';

const say = (text: string): VoiceEntry => ({ t: 'say', id: randomEntryId(), text, at: 1_700_000_000_000 });

describe('readOrder', () => {
  const numbers = new Map([
    [1, 'A'.repeat(22)],
    [2, 'B'.repeat(22)],
  ]);
  it('reads both stored forms, in document order, and skips what names no known voice', () => {
    const raw: unknown[] = [
      { v: 'C'.repeat(22), id: 'old', at: 5_000 },
      [2, 'e1', 10],
      [3, 'nobody', 11],
      [1, 'e2', -4],
      'junk',
      [1, 7, 3],
      { v: 'A'.repeat(22), id: 'half' },
    ];
    expect(readOrder(raw, numbers, 1_000)).toEqual([
      { v: 'C'.repeat(22), id: 'old', at: 5_000 },
      { v: 'B'.repeat(22), id: 'e1', at: 1_010 },
      { v: 'A'.repeat(22), id: 'e2', at: 996 },
    ]);
  });
  it('maps numbers from the people who have one', () => {
    const people: Array<[string, Person]> = [
      ['x', { name: '', relation: '', aboutMe: false, joinedAt: 1, n: 4 }],
      ['y', { name: '', relation: '', aboutMe: false, joinedAt: 2 }],
    ];
    expect([...voiceNumbers(people)]).toEqual([[4, 'x']]);
  });
});

describe('order marks on a real server', () => {
  it('are stored short, naming each voice by its person’s number, given in order of joining', async () => {
    const server = await startServer();
    const opened = await openMeeting(server, 'Opener');
    const fac = await connect(server, opened);
    const anna = await connect(server, await join(server, opened, 'Anna'));
    const ids: string[] = [];
    for (const [who, text] of [
      [fac, 'first'],
      [anna, 'second'],
      [fac, 'third'],
    ] as const) {
      ids.push(who.say(text));
      await until(() => fac.order.length === ids.length && anna.order.length === ids.length, `“${text}” placed`);
    }

    const m = server.app.meetings.peek(opened.meetingId)!;
    const people = m.meetingDoc.getMap<Person>(MEETING_PEOPLE);
    expect(people.get(opened.participantId)?.n).toBe(1);
    expect(people.get(anna.me!)?.n).toBe(2);
    const stored = m.meetingDoc.getArray<unknown>(MEETING_ORDER).toArray();
    const openedAt = m.meetingDoc.getMap('state').get('openedAt') as number;
    expect(stored.map((s) => (s as unknown[]).slice(0, 2))).toEqual([
      [1, ids[0]],
      [2, ids[1]],
      [1, ids[2]],
    ]);
    // What every device reads is the server's time of receipt, the same everywhere.
    expect(fac.order).toEqual(anna.order);
    expect(fac.order.map((o) => o.v)).toEqual([opened.participantId, anna.me, opened.participantId]);
    for (const [i, mark] of fac.order.entries()) expect(mark.at).toBe(openedAt + (stored[i] as number[])[2]!);
    expect(fac.record().items.map((i) => i.text)).toEqual(['first', 'second', 'third']);
  });

  it('a meeting stored before numbers keeps its order, numbers its people, and marks anew after it', async () => {
    const dataDir = await tempDir();
    const first = await startServer({ dataDir });
    const opened = await openMeeting(first, 'Opener');
    const anna = await join(first, opened, 'Anna');
    const fac = await connect(first, opened);
    const annaConn = await connect(first, anna);
    fac.say('before the upgrade');
    await until(() => fac.order.length === 1 && fac.saved, 'one mark, saved');
    const m = first.app.meetings.peek(opened.meetingId)!;
    const meetingBase = new Y.Doc();
    Y.applyUpdate(meetingBase, Y.encodeStateAsUpdate(m.meetingDoc));
    const annaBase = new Y.Doc();
    Y.applyUpdate(annaBase, Y.encodeStateAsUpdate(serverDoc(first.app, opened.meetingId, anna.participantId)));
    annaConn.close();
    fac.close();
    await first.stop();

    // What an older server wrote: people without numbers, marks as objects (one for an entry of
    // Anna's written then).
    const old = say('written under the old server');
    const oldAt = 1_800_000_000_000;
    const voice = craft(annaBase, (d) => d.getArray<VoiceEntry>(VOICE_LOG).push([old]));
    const meeting = craft(meetingBase, (d) => {
      const people = d.getMap<Person>(MEETING_PEOPLE);
      for (const [id, p] of [...people.entries()]) {
        const { n: _n, ...rest } = p;
        people.set(id, rest);
      }
      const order = d.getArray<unknown>(MEETING_ORDER);
      const stored = order.toArray();
      order.delete(0, order.length);
      order.push(readOrder(stored, voiceNumbers(meetingBase.getMap<Person>(MEETING_PEOPLE).entries()), 0));
      order.push([{ v: anna.participantId, id: old.id, at: oldAt } satisfies OrderMark]);
    });
    const store = await openStore({ dataDir, databaseUrl: null });
    await store.appendUpdates(opened.meetingId, [
      { doc: anna.participantId, update: voice.update },
      { doc: MEETING_DOC, update: meeting.update },
    ]);
    await store.close();

    const second = await startServer({ dataDir });
    const again = await connect(second, opened);
    await until(() => again.order.length === 2, 'the old marks');
    const people = again.people;
    expect([people.get(opened.participantId)?.n, people.get(anna.participantId)?.n]).toEqual([1, 2]);
    expect(again.order[1]).toEqual({ v: anna.participantId, id: old.id, at: oldAt });
    again.say('after the upgrade');
    await until(() => again.order.length === 3, 'a new mark');
    const stored = second.app.meetings.peek(opened.meetingId)!.meetingDoc.getArray<unknown>(MEETING_ORDER).toArray();
    expect(Array.isArray(stored[2])).toBe(true);
    expect(again.record().items.map((i) => i.text)).toEqual([
      'before the upgrade',
      'written under the old server',
      'after the upgrade',
    ]);
  });

  it('the writer gets the marks its update caused, not its own update; everyone else gets both', async () => {
    const server = await startServer();
    const opened = await openMeeting(server, 'Opener');
    const adm = await join(server, opened, 'Writer');
    const writer = await RawClient.connect(server.url, { meetingId: opened.meetingId, token: adm.personalToken });
    const otherDevice = await RawClient.connect(server.url, { meetingId: opened.meetingId, token: adm.personalToken });
    const watcher = await RawClient.connect(server.url, { meetingId: opened.meetingId, token: opened.personalToken });
    const own = await writer.pull(writer.me);
    for (const c of [writer, otherDevice, watcher]) await c.barrier();
    const from = [writer, otherDevice, watcher].map((c) => c.received.length);

    const entry = say('mine');
    const { update } = craft(own, (d) => d.getArray<VoiceEntry>(VOICE_LOG).push([entry]));
    writer.send(writer.me, syncUpdate(update));
    const marked = (c: RawClient, i: number) =>
      c.received.slice(from[i]).some((r) => r.doc === MEETING_DOC && r.msg.kind === 'update');
    await until(() => [writer, otherDevice, watcher].every(marked), 'everyone has the mark');
    // Anything else on its way to the writer has arrived too.
    await writer.barrier();
    const [w, o, x] = [writer, otherDevice, watcher].map((c, i) => c.received.slice(from[i]));
    const docsOf = (list: typeof w) => list!.filter((r) => r.msg.kind === 'update').map((r) => r.doc);
    expect(docsOf(w)).toEqual([MEETING_DOC]);
    expect(docsOf(o)).toEqual([writer.me, MEETING_DOC]);
    expect(docsOf(x)).toEqual([writer.me, MEETING_DOC]);
    expect(writer.refusals).toEqual([]);
  });
});

describe('DocNames', () => {
  it('names voices by number once each, and reads numbers and ids alike', () => {
    const names = new DocNames();
    const [a, b] = ['A'.repeat(22), 'B'.repeat(22)];
    expect(names.name(1, a)).toBe(true);
    expect([names.name(1, b), names.name(2, a), names.name(0, b), names.name(-1, b), names.name(1.5, b)]).toEqual([
      false,
      false,
      false,
      false,
      false,
    ]);
    expect([names.name(3, 'not an id'), names.name(3, b)]).toEqual([false, true]);
    expect([names.tagOf(MEETING_DOC), names.tagOf(a), names.tagOf(b), names.tagOf('C'.repeat(22))]).toEqual([
      0,
      1,
      3,
      'C'.repeat(22),
    ]);
    expect([names.idOf(0), names.idOf(3), names.idOf(2), names.idOf(a), names.idOf(null)]).toEqual([
      MEETING_DOC,
      b,
      undefined,
      a,
      undefined,
    ]);
    expect(names.list()).toEqual([MEETING_DOC, a, '', b]);
    expect(names.next).toBe(4);
  });
});

describe('documents by number on the data plane', () => {
  it('welcome names every document by its number; a voice that joins later is named before its first message', async () => {
    const server = await startServer();
    const opened = await openMeeting(server, 'Opener');
    const anna = await join(server, opened, 'Anna');
    const watcher = await RawClient.connect(server.url, { meetingId: opened.meetingId, token: opened.personalToken });
    expect(watcher.welcome!.docs).toEqual([MEETING_DOC, opened.participantId, anna.participantId]);

    const late = await connect(server, await join(server, opened, 'Late'));
    late.say('I came later.');
    await until(
      () => watcher.received.some((r) => r.doc === late.me && r.msg.kind === 'update'),
      'the late voice’s words, by id',
    );
    expect(watcher.names.idOf(3)).toBe(late.me);
    expect(watcher.unnamed).toEqual([]);
    // The page names documents by number too, and reads what it is sent the same way.
    await until(() => late.log(late.me!).length === 1 && late.saved, 'saved');
    expect(late.docOf(3)).toBe(late.me);
    expect(late.docOf(0)).toBe(MEETING_DOC);
    expect(late.docOf(99)).toBeUndefined();
  });
  it('the server writes the meeting document under a small client id, a fresh one on every load', async () => {
    const dataDir = await tempDir();
    const serverIds: number[] = [];
    const opened = await (async () => {
      const first = await startServer({ dataDir });
      const opened = await openMeeting(first, 'Opener');
      const fac = await connect(first, opened);
      fac.say('first load');
      await until(() => fac.order.length === 1 && fac.saved, 'marked and saved');
      serverIds.push(first.app.meetings.peek(opened.meetingId)!.meetingDoc.clientID);
      fac.close();
      await first.stop();
      return opened;
    })();
    for (const text of ['second load', 'third load']) {
      const server = await startServer({ dataDir });
      const fac = await connect(server, opened);
      fac.say(text);
      await until(() => fac.order.length === serverIds.length + 1 && fac.saved, `${text}: marked and saved`);
      const doc = server.app.meetings.peek(opened.meetingId)!.meetingDoc;
      serverIds.push(doc.clientID);
      // Every item of the meeting document is the server's, under one of the ids its loads drew.
      expect([...doc.store.clients.keys()].sort()).toEqual([...serverIds].sort());
      // The mark this load wrote is under its own id (Yjs writes it as two bytes, not five).
      const marks = doc.store.clients.get(doc.clientID)!;
      expect(marks.length).toBeGreaterThan(0);
      fac.close();
      await server.stop();
    }
    expect(new Set(serverIds).size).toBe(3);
    for (const id of serverIds) expect(id).toBeGreaterThan(0);
    for (const id of serverIds) expect(id).toBeLessThan(2 ** 14);
  });
});
