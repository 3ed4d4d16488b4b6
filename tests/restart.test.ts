/**
 * Restart durability with the real server as a child process: every word a client was told is
 * saved survives SIGKILL; open clients reconnect by themselves and converge; SIGTERM and SIGINT
 * flush pending writes before the process exits.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { MeetingConnection } from '../client/lib/connection.js';
import { MEETING_DOC } from '../shared/ids.js';
import type { Admission } from '../shared/protocol.js';
import { VOICE_LOG, type VoiceEntry } from '../shared/record.js';
import { decodeRecords } from '../server/store/updateLog.js';
import { converged, join, onCleanup, openMeeting, sameState, tempDir, until, untilAsync } from './helpers.js';
import { startChild } from './child.js';
import { barrier } from './raw.js';

/** A participant's browser: reconnects by itself, as the page does. */
async function device(url: string, admission: Admission): Promise<MeetingConnection> {
  const c = new MeetingConnection({
    url,
    meetingId: admission.meetingId,
    token: admission.personalToken,
    socket: { forceNew: true, transports: ['websocket'], reconnectionDelay: 100, reconnectionDelayMax: 500 },
  });
  onCleanup(() => c.close());
  await until(() => c.me !== null && c.status === 'connected', 'connected', 20_000);
  return c;
}

/** The meeting's documents as its update log on disk holds them. Reads without changing the file. */
async function onDisk(dataDir: string, meetingId: string): Promise<Map<string, Y.Doc>> {
  const file = path.join(dataDir, 'meetings', `${meetingId}.ylog`);
  const { updates } = decodeRecords(await readFile(file), file);
  const docs = new Map<string, Y.Doc>();
  for (const u of updates) {
    let d = docs.get(u.doc);
    if (!d) docs.set(u.doc, (d = new Y.Doc()));
    Y.applyUpdate(d, u.update);
  }
  return docs;
}

function idsIn(doc: Y.Doc | undefined): Set<string> {
  return new Set((doc?.getArray<VoiceEntry>(VOICE_LOG).toArray() ?? []).map((e) => e.id));
}

function entryIds(c: MeetingConnection, voice: string): string[] {
  return c.log(voice).map((e) => e.id);
}

/** Everything a screen shows of the record's order and arrival times. */
function shown(c: MeetingConnection): string[] {
  return c.record().items.map((i) => `${i.ref} at ${i.at}`);
}

function describeAll(all: readonly MeetingConnection[]): string {
  return JSON.stringify(
    all.map((o) => ({
      status: o.status,
      saved: o.saved,
      refusals: o.refusals.length,
      voices: o.voices.size,
      order: o.order.length,
      meetingSv: [...Y.decodeStateVector(Y.encodeStateVector(o.meetingDoc))],
    })),
  );
}

describe('restart durability (a real child process)', () => {
  it(
    'SIGKILL keeps every saved word; open clients reconnect by themselves and converge',
    { timeout: 90_000 },
    async () => {
      const dataDir = await tempDir();
      let child = await startChild({ dataDir });
      const opened = await openMeeting(child);
      const people = [await device(child.url, opened)];
      for (const name of ['Anna', 'Ben', 'Carla'])
        people.push(await device(child.url, await join(child, opened, name)));

      // Everyone speaks, and waits until the screen would say "saved".
      people.forEach((c, i) => {
        for (let k = 0; k < 5; k++) c.say(`person ${i}, words ${k}`);
      });
      await until(() => people.every((c) => c.saved) && converged(people), 'all saved', 20_000);
      const saved = new Map(people.map((c) => [c.me!, entryIds(c, c.me!)]));
      // Quiet: wait until the disk also holds the meeting document exactly as the clients see it (the
      // server's order marks are written just after the words). Words and marks in flight at a crash
      // are the next test's subject.
      const reference = people[0]!.meetingDoc;
      await untilAsync(
        async () => sameState((await onDisk(dataDir, opened.meetingId)).get(MEETING_DOC) ?? new Y.Doc(), reference),
        'the meeting document on disk',
        20_000,
      );

      const died = await child.kill('SIGKILL');
      expect(died.signal).toBe('SIGKILL');
      await until(() => people.every((c) => c.status !== 'connected'), 'clients noticed', 20_000);

      // Straight from the disk, before anyone reconnects: every saved word is there.
      const disk = await onDisk(dataDir, opened.meetingId);
      for (const [voice, ids] of saved) {
        const stored = idsIn(disk.get(voice));
        expect({ voice, missing: ids.filter((id) => !stored.has(id)) }).toEqual({ voice, missing: [] });
      }

      child = await startChild({ dataDir, port: child.port });
      // A fresh device (the facilitator's personal link on a new phone) loads the whole record.
      const fresh = await device(child.url, opened);
      await until(
        () => [...saved].every(([voice, ids]) => ids.every((id) => entryIds(fresh, voice).includes(id))),
        'fresh device has every saved word',
        20_000,
      );

      // The open clients reconnect by themselves and converge with the fresh one.
      const all = [...people, fresh];
      await until(
        () => people.every((c) => c.status === 'connected') && converged(all) && people.every((c) => c.saved),
        () => `reconnected and converged: ${describeAll(all)}`,
        30_000,
      );
      for (const c of people) expect(shown(c)).toEqual(shown(fresh));
      expect(fresh.record().items).toHaveLength(people.length * 5);

      // And they carry on writing.
      const after = people.map((c, i) => c.say(`person ${i}, after the restart`));
      await until(
        () =>
          converged(all) &&
          people.every((c, i) => all.every((o) => entryIds(o, c.me!).includes(after[i]!))) &&
          people.every((c) => c.saved),
        () => `writing after the restart: ${describeAll(all)}`,
        20_000,
      );
    },
  );

  it(
    '[S9] SIGKILL with words in flight: the open clients re-send them, and everyone converges on one record in one order',
    { timeout: 90_000 },
    async () => {
      const dataDir = await tempDir();
      // A long group-commit window: the server has applied and broadcast the words (and their order
      // marks) but not yet written them when it is killed.
      let child = await startChild({ dataDir, env: { FLUSH_WINDOW_MS: '2000' } });
      const opened = await openMeeting(child);
      const people = [await device(child.url, opened)];
      for (const name of ['Anna', 'Ben']) people.push(await device(child.url, await join(child, opened, name)));
      // First a quiet start: some words, all saved, and the meeting document on disk as everyone sees it.
      people.forEach((c, i) => c.say(`person ${i}, before`));
      await until(() => people.every((c) => c.saved && c.record().items.length === 3), 'start saved', 20_000);
      await untilAsync(
        async () =>
          sameState((await onDisk(dataDir, opened.meetingId)).get(MEETING_DOC) ?? new Y.Doc(), people[0]!.meetingDoc),
        'the meeting document on disk',
        20_000,
      );

      const inFlight = people.map((c, i) => [c.say(`person ${i}, in flight 1`), c.say(`person ${i}, in flight 2`)]);
      // Every device has every word in flight (the server applied and shared them), and has received
      // everything else the server sent until now (a server that shared its order marks before
      // storing them would have shared them by then); no word in flight is saved yet.
      await until(
        () => people.every((o) => people.every((w, i) => inFlight[i]!.every((id) => entryIds(o, w.me!).includes(id)))),
        'everyone has the words in flight',
        20_000,
      );
      for (const c of people) await barrier(c.socket);
      expect(people.map((c) => c.saved)).toEqual(people.map(() => false));

      await child.kill('SIGKILL');
      await until(() => people.every((c) => c.status !== 'connected'), 'clients noticed', 20_000);
      child = await startChild({ dataDir, port: child.port });
      const fresh = await device(child.url, opened);
      const all = [...people, fresh];

      // Every word in flight is re-sent by its writer's device, reaches everyone and is saved.
      await until(
        () =>
          people.every((c) => c.status === 'connected' && c.saved) &&
          people.every((c, i) => all.every((o) => inFlight[i]!.every((id) => entryIds(o, c.me!).includes(id)))),
        () => `in-flight words re-sent: ${describeAll(all)}`,
        30_000,
      );
      for (const c of people) expect(new Set(entryIds(fresh, c.me!)).size).toBe(3);

      // Everyone — the devices that were open through the crash and the fresh one — holds the same
      // meeting document, so the record shows the same order and times on every screen.
      await until(
        () => converged(all),
        () => `one record for everyone: ${describeAll(all)}`,
        15_000,
      );
      for (const c of people) expect(shown(c)).toEqual(shown(fresh));
    },
  );

  it.each(['SIGTERM', 'SIGINT'] as const)(
    '%s flushes pending writes before the process exits',
    { timeout: 60_000 },
    async (signal) => {
      const dataDir = await tempDir();
      // A long group-commit window, so that the writes are certainly still pending at the signal.
      const child = await startChild({ dataDir, env: { FLUSH_WINDOW_MS: '2000' } });
      const opened = await openMeeting(child);
      const writer = await device(child.url, await join(child, opened, 'Writer'));
      const observer = await device(child.url, opened);
      await until(() => writer.saved, 'writer starts saved', 20_000);

      const ids = Array.from({ length: 20 }, (_, k) => writer.say(`pending words ${k}`));
      // The server has applied them (the observer has them all) but not yet written them.
      await until(() => ids.every((id) => entryIds(observer, writer.me!).includes(id)), 'observer has them', 20_000);
      expect(writer.saved).toBe(false);

      const exit = await child.kill(signal);
      expect(exit).toEqual({ code: 0, signal: null });
      writer.close();
      observer.close();

      const stored = idsIn((await onDisk(dataDir, opened.meetingId)).get(writer.me!));
      expect(ids.filter((id) => !stored.has(id))).toEqual([]);

      const again = await startChild({ dataDir, port: child.port });
      const fresh = await device(again.url, opened);
      await until(() => ids.every((id) => entryIds(fresh, writer.me!).includes(id)), 'reloaded', 20_000);
      expect(fresh.log(writer.me!).map((e) => (e.t === 'say' ? e.text : ''))).toEqual(
        ids.map((_, k) => `pending words ${k}`),
      );
    },
  );
});
