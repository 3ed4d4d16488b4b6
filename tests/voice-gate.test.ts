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
import { api, connect, encoded, join, openMeeting, startServer, until, type TestServer } from './helpers.js';
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
  const serverDoc = (id: string): Y.Doc => {
    const m = server.app.meetings.peek(opened.meetingId);
    const doc = id === MEETING_DOC ? m?.meetingDoc : m?.voiceDocs().get(id);
    if (!doc) throw new Error(`server has no document ${id}`);
    return doc;
  };
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
