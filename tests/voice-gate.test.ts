/**
 * The voice gate: what the server lets into a voice document (server/meetings/validate.ts and
 * `Meeting.receive`), checked with raw clients holding valid tokens against a real server.
 * A refused update changes nothing anywhere; an accepted one is integrated whole.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import type { MeetingConnection } from '../client/lib/connection.js';
import { MEETING_DOC, randomEntryId } from '../shared/ids.js';
import { Refusal, type Admission } from '../shared/protocol.js';
import { VOICE_LOG, buildRecord, type VoiceEntry } from '../shared/record.js';
import { syncUpdate } from '../shared/wire.js';
import {
  api,
  connect,
  encoded,
  join,
  serverDoc as serverDocOf,
  openMeeting,
  startServer,
  until,
  type TestServer,
} from './helpers.js';
import { RawClient, barrier, craft } from './raw.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});

const say = (text: string, id = randomEntryId()): VoiceEntry => ({ t: 'say', id, text, at: 1_700_000_000_000 });

interface Scene {
  opened: Admission;
  writer: RawClient;
  /** An honest participant watching. */
  watcher: MeetingConnection;
  serverDoc(id: string): Y.Doc;
  exported(): Promise<{ items: Array<{ ref: string; text: string; at: number | null }> }>;
}

async function scene(): Promise<Scene> {
  const opened = await openMeeting(server, 'Opener');
  const watcher = await connect(server, opened);
  const adm = await join(server, opened, 'Writer');
  const writer = await RawClient.connect(server.url, { meetingId: opened.meetingId, token: adm.personalToken });
  await writer.pull(writer.me);
  const serverDoc = (id: string): Y.Doc => serverDocOf(server.app, opened.meetingId, id);
  const exported = async () =>
    (
      await api<{ items: Array<{ ref: string; text: string; at: number | null }> }>(
        `${server.url}/api/meetings/${opened.meetingId}/export.json`,
        'GET',
        undefined,
        { authorization: `Bearer ${opened.personalToken}` },
      )
    ).body;
  return { opened, writer, watcher, serverDoc, exported };
}

/** Send `update` for the writer's own voice; expect one refusal `code` and nothing changed. */
async function expectRefused(s: Scene, update: Uint8Array, code: string): Promise<void> {
  const voice = s.writer.me;
  const before = [encoded(s.serverDoc(voice)), encoded(s.serverDoc(MEETING_DOC))];
  const from = s.writer.refusals.length;
  s.writer.send(voice, syncUpdate(update));
  await s.writer.barrier();
  await barrier(s.watcher.socket);
  expect(s.writer.refusalsSince(from).map((r) => [r.doc, r.code])).toEqual([[voice, code]]);
  expect([encoded(s.serverDoc(voice)), encoded(s.serverDoc(MEETING_DOC))]).toEqual(before);
}

describe('[S5] entries are plain JSON data', () => {
  it('[S5] an entry with an own __proto__ key is refused, and the export never shows words read through it', async () => {
    const s = await scene();
    const base = s.writer.replica(s.writer.me);
    // JSON.parse makes "__proto__" an own key; lib0 encodes it, and its decoder makes it the prototype.
    const hidden = JSON.parse(`{"__proto__": ${JSON.stringify(say('words no device shows'))}}`) as VoiceEntry;
    const { update } = craft(base, (d) => d.getArray(VOICE_LOG).push([hidden]));
    await expectRefused(s, update, Refusal.malformed);
    // Nested, and the other reserved names.
    for (const bad of [
      { ...say('nested'), re: JSON.parse('{"__proto__": {"x": 1}}') as string },
      JSON.parse(`{"prototype": 1, ${JSON.stringify(say('proto key')).slice(1)}`) as VoiceEntry,
      JSON.parse(`{"__proto__": null, ${JSON.stringify(say('null proto')).slice(1)}`) as VoiceEntry,
    ]) {
      const { update: u } = craft(base, (d) => d.getArray(VOICE_LOG).push([bad]));
      await expectRefused(s, u, Refusal.malformed);
    }
    const body = await s.exported();
    expect(body.items).toEqual([]);
    // The writer carries on with a plain entry.
    const { update: ok } = craft(base, (d) => d.getArray(VOICE_LOG).push([say('plain words')]));
    s.writer.send(s.writer.me, syncUpdate(ok));
    await until(() => s.watcher.record().items.some((i) => i.text === 'plain words'), 'plain words arrive');
    expect((await s.exported()).items.map((i) => i.text)).toEqual(['plain words']);
  });

  it('[S5] the fold never reads an entry through its prototype', () => {
    const voice = 'A'.repeat(22);
    const entry = say('read through the prototype', 'abcdefgh');
    const crafted: unknown = Object.create(entry);
    const nullProto: unknown = Object.assign(Object.create(null), say('null prototype', 'ijklmnop'));
    const record = buildRecord(
      { order: [{ v: voice, id: 'abcdefgh', at: 1 }], events: [] },
      new Map([[voice, [crafted, nullProto]]]),
    );
    expect(record.items).toEqual([]);
    // The same words as plain data are an item.
    expect(
      buildRecord({ order: [{ v: voice, id: 'abcdefgh', at: 1 }], events: [] }, new Map([[voice, [{ ...entry }]]]))
        .items.length,
    ).toBe(1);
  });
});

/** One update holding the blocks of several single-client updates, as they are (no merging). */
function concatBlocks(...updates: Uint8Array[]): Uint8Array {
  const blocks = updates.map((u) => {
    // A one-client update with no deletions: [1] block [0].
    expect([u[0], u[u.length - 1]]).toEqual([1, 0]);
    return u.slice(1, -1);
  });
  return Uint8Array.from([updates.length, ...blocks.flatMap((b) => [...b]), 0]);
}

describe('[S4] whole or nothing: what is counted is what Yjs integrates', () => {
  it('[S4][S9] two blocks for one Yjs client are refused whole: no phantom entry, no order mark', async () => {
    const s = await scene();
    const base = s.writer.replica(s.writer.me);
    const client = 424242;
    const phantom = craft(base, (d) => d.getArray(VOICE_LOG).push([say('phantom', 'phantom1')]), client).update;
    const real = craft(base, (d) => d.getArray(VOICE_LOG).push([say('real', 'realreal')]), client).update;
    // The same clock twice (Yjs would integrate only the second block)…
    await expectRefused(s, concatBlocks(phantom, real), Refusal.malformed);
    // …and two blocks of one client one after the other (Yjs would keep only the second, and park it as pending).
    const { doc: one, update: first } = craft(
      base,
      (d) => d.getArray(VOICE_LOG).push([say('first', 'firstone')]),
      client,
    );
    const sv = Y.encodeStateVector(one);
    one.getArray(VOICE_LOG).push([say('second', 'secondtw')]);
    const second = Y.encodeStateAsUpdate(one, sv);
    await expectRefused(s, concatBlocks(first, second), Refusal.malformed);
    expect(s.serverDoc(MEETING_DOC).getArray('order').length).toBe(0);
    // The honest way still works, and an entry later using the phantom's id is placed when it arrives.
    s.watcher.say('other words in between');
    await until(() => s.serverDoc(MEETING_DOC).getArray('order').length === 1, 'the watcher is placed');
    s.writer.send(
      s.writer.me,
      syncUpdate(craft(base, (d) => d.getArray(VOICE_LOG).push([say('phantom', 'phantom1')]), client).update),
    );
    await until(() => s.watcher.record().items.length === 2, 'both placed');
    expect(s.watcher.record().items.map((i) => i.text)).toEqual(['other words in between', 'phantom']);
    expect(s.writer.refusals).toHaveLength(2);
  });
});

describe('[S4] whole updates across clients', () => {
  it('[S4][S9] one update with two clients referring to each other in turn (a reloaded device) is accepted whole, in the order written', async () => {
    const s = await scene();
    const base = s.writer.replica(s.writer.me);
    const d = new Y.Doc();
    Y.applyUpdate(d, Y.encodeStateAsUpdate(base));
    const sv = Y.encodeStateVector(d);
    const log = d.getArray<VoiceEntry>(VOICE_LOG);
    d.clientID = 1001;
    log.push([say('one, before the reload')]);
    d.clientID = 1002;
    log.push([say('two, after the reload')]);
    d.clientID = 1001;
    log.push([say('three, the old tab again')]);
    s.writer.send(s.writer.me, syncUpdate(Y.encodeStateAsUpdate(d, sv)));
    await until(() => s.watcher.record().items.length === 3, 'all three placed');
    // Placed in the order they were written (the order Yjs integrates them), not by client blocks.
    expect(s.watcher.record().items.map((i) => i.text)).toEqual([
      'one, before the reload',
      'two, after the reload',
      'three, the old tab again',
    ]);
    expect(s.writer.refusals).toEqual([]);
  });
});

describe('[S4] an entry id names one entry of a voice', () => {
  it('[S4] reusing an entry id (already in the voice, or twice in one update) is refused; re-sending is not reuse', async () => {
    const s = await scene();
    const base = s.writer.replica(s.writer.me);
    const first = craft(base, (d) => d.getArray(VOICE_LOG).push([say('the first words', 'sameid01')]));
    s.writer.send(s.writer.me, syncUpdate(first.update));
    await until(() => s.watcher.record().items.length === 1, 'first placed');
    await s.writer.pull(s.writer.me);
    const now = s.writer.replica(s.writer.me);
    await expectRefused(
      s,
      craft(now, (d) => d.getArray(VOICE_LOG).push([say('the same id again', 'sameid01')])).update,
      Refusal.malformed,
    );
    await expectRefused(
      s,
      craft(now, (d) => d.getArray(VOICE_LOG).push([say('twice', 'twiceid1'), say('twice again', 'twiceid1')])).update,
      Refusal.malformed,
    );
    // A device's sync step 2 re-sends what the server has (same client and clock): no refusal, no new mark.
    const before = encoded(s.serverDoc(MEETING_DOC));
    s.writer.send(s.writer.me, syncUpdate(first.update));
    s.writer.send(s.writer.me, syncUpdate(Y.encodeStateAsUpdate(first.doc)));
    await s.writer.barrier();
    expect(s.writer.refusals.map((r) => r.code)).toEqual([Refusal.malformed, Refusal.malformed]);
    expect(encoded(s.serverDoc(MEETING_DOC))).toEqual(before);
    expect((await s.exported()).items.map((i) => i.text)).toEqual(['the first words']);
  });
});
