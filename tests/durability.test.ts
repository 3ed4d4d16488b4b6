/**
 * Durability, quickly (issue 5): "saved" means on disk; group commit; storage work per edit that
 * does not grow with the meeting; start-up with damaged storage.
 *
 * The server runs in this process (startServer), so when a client's "saved" arrives, the server's
 * write and fsync have already returned: reading the meeting's log at that very moment must find
 * every word the client wrote. Start-up refusals run the real server as a child process.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import type { MeetingConnection } from '../client/lib/connection.js';
import { randomEntryId } from '../shared/ids.js';
import { ConnectError, type Admission } from '../shared/protocol.js';
import { VOICE_LOG, type VoiceEntry } from '../shared/record.js';
import { FileStore } from '../server/store/fileStore.js';
import type { DocUpdate } from '../server/store/types.js';
import { decodeRecords, encodeRecords } from '../server/store/updateLog.js';
import {
  api,
  connect,
  join,
  openMeeting,
  startServer,
  tempDir,
  until,
  untilAsync,
  type TestServer,
  recordFiles,
} from './helpers.js';
import { device, docsOnDisk, logFile, said, saidOnDisk, spawnServer } from './faults/util.js';

/** A store that counts its appends (each is one write and one fdatasync of the update log). */
async function countingStore(dataDir: string) {
  const store = await FileStore.open(dataDir);
  const appends: Array<{ meetingId: string; updates: number; bytes: number }> = [];
  const append = store.appendUpdates.bind(store);
  store.appendUpdates = (meetingId: string, updates: readonly DocUpdate[]) => {
    appends.push({ meetingId, updates: updates.length, bytes: encodeRecords(updates).length });
    return append(meetingId, updates);
  };
  return { store, appends };
}

async function people(server: TestServer, opened: Admission, n: number): Promise<MeetingConnection[]> {
  const conns = [await connect(server, opened)];
  for (let i = 1; i < n; i++) conns.push(await connect(server, await join(server, opened, `Person ${i}`)));
  return conns;
}

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('"saved" means on disk', () => {
  it('whenever a client is told "saved", everything it wrote is in the log on disk at that moment', async () => {
    const server = await startServer();
    const opened = await openMeeting(server);
    const conns = await people(server, opened, 5);
    const file = logFile(server.dataDir, opened.meetingId);
    const violations: string[] = [];
    let checks = 0;
    const written = new Map<MeetingConnection, string[]>(conns.map((c) => [c, []]));
    for (const c of conns) {
      let was = c.saved;
      c.subscribe(() => {
        const now = c.saved;
        if (now && !was && written.get(c)!.length > 0) {
          checks++;
          // Synchronously, in the very turn the "saved" message is handled.
          const { updates } = decodeRecords(readFileSync(file), file);
          const onDisk = new Set(
            docsOnDisk(updates)
              .get(c.me!)
              ?.getArray<VoiceEntry>(VOICE_LOG)
              .toArray()
              .flatMap((e) => (e.t === 'say' ? [e.text] : [])),
          );
          const missing = written.get(c)!.filter((m) => !onDisk.has(m));
          if (missing.length)
            violations.push(`${c.me}: "saved" while ${missing.length} edits are not on disk (${missing[0]})`);
        }
        was = now;
      });
    }
    // Every client in its own rhythm: a burst of one to three edits, sometimes waiting for "saved".
    await Promise.all(
      conns.map(async (c, i) => {
        for (let round = 0; round < 25; round++) {
          for (let k = 0; k <= (round + i) % 3; k++) {
            const m = `on-disk ${i}-${round}-${k}`;
            c.say(m);
            written.get(c)!.push(m);
          }
          if ((round + i) % 4 !== 0) await until(() => c.saved, 'saved');
          await settle((round * 7 + i) % 5);
        }
      }),
    );
    await until(() => conns.every((c) => c.saved), 'all saved');
    console.log(`[durability] "saved" checked against the disk ${checks} times; violations: ${violations.length}`);
    expect(checks).toBeGreaterThan(50);
    expect(violations).toEqual([]);
  });
});

describe('group commit and the cost of an edit', () => {
  it('many concurrent edits from many clients share far fewer appends (one write + fdatasync each)', async () => {
    const dataDir = await tempDir();
    const { store, appends } = await countingStore(dataDir);
    const server = await startServer({ dataDir, store });
    const opened = await openMeeting(server);
    const conns = await people(server, opened, 20);
    await until(() => conns.every((c) => c.saved), 'all saved');
    await server.app.meetings.peek(opened.meetingId)!.flushed();
    const from = appends.length;
    const bytesBefore = statSync(logFile(dataDir, opened.meetingId)).size;

    let edits = 0;
    for (let round = 0; round < 10; round++) {
      for (const c of conns) {
        c.say(`concurrent ${round} ${c.me}`);
        edits++;
      }
      await settle(3);
    }
    await until(() => conns.every((c) => c.saved), 'all saved');
    await server.app.meetings.peek(opened.meetingId)!.flushed();
    const mine = appends.slice(from).filter((a) => a.meetingId === opened.meetingId);
    const updates = mine.reduce((n, a) => n + a.updates, 0);
    const grown = statSync(logFile(dataDir, opened.meetingId)).size - bytesBefore;
    console.log(
      `[durability] group commit: ${edits} edits from ${conns.length} clients -> ${mine.length} appends ` +
        `(${(edits / mine.length).toFixed(1)} edits per append/fdatasync; ${updates} updates incl. order marks); ` +
        `log grew ${grown} bytes = ${(grown / edits).toFixed(0)} bytes per edit`,
    );
    expect(mine.length).toBeLessThan(edits / 4);
  });

  it('an acknowledgement does not wait out the group-commit window: what it awaits is written at once, with the words before it', async () => {
    const dataDir = await tempDir();
    const { store, appends } = await countingStore(dataDir);
    // A ten-minute window: nothing below could finish within the test if it waited for one.
    const server = await startServer({ dataDir, store, config: { flushWindowMs: 600_000 } });
    const opened = await openMeeting(server);
    const other = await join(server, opened, 'Other');
    const [fac, writer] = [await connect(server, opened), await connect(server, other)];
    await until(() => fac.saved && writer.saved, 'both start saved');
    writer.say('words in the open window');
    await until(() => fac.log(writer.me!).length === 1, 'the words reached the others (applied, not yet written)');
    const before = appends.length;
    expect(writer.saved).toBe(false);
    expect(await fac.request('meeting:lock', { locked: true })).toEqual({ ok: true });
    // The lock's batch went at once, and the words waiting in the window went with it.
    expect(appends.length).toBeGreaterThan(before);
    await until(() => writer.saved, 'the words are saved with the lock');
    expect(saidOnDisk(dataDir, opened.meetingId).get(writer.me!)).toEqual(['words in the open window']);
  });

  it('bytes appended per small edit are the same in an empty meeting and in one holding 5,000 entries', async () => {
    const dataDir = await tempDir();
    const { store, appends } = await countingStore(dataDir);
    const server = await startServer({ dataDir, store });

    /** `n` single edits, one at a time, each saved before the next: bytes appended per edit. */
    const perEdit = async (c: MeetingConnection, meetingId: string, n: number) => {
      const m = server.app.meetings.peek(meetingId)!;
      await until(() => c.saved, 'saved');
      await m.flushed();
      const from = appends.length;
      const size0 = statSync(logFile(dataDir, meetingId)).size;
      for (let k = 0; k < n; k++) {
        c.say(`small edit number ${String(k).padStart(3, '0')}`);
        await until(() => c.saved, 'saved');
      }
      await m.flushed();
      const mine = appends.slice(from).filter((a) => a.meetingId === meetingId);
      const bytes = mine.reduce((s, a) => s + a.bytes, 0);
      const grown = statSync(logFile(dataDir, meetingId)).size - size0;
      expect(grown).toBe(bytes);
      return bytes / n;
    };

    const small = await openMeeting(server);
    const smallWriter = await connect(server, small);
    const inSmall = await perEdit(smallWriter, small.meetingId, 50);

    const large = await openMeeting(server);
    const largeWriter = await connect(server, large);
    const doc = largeWriter.voices.get(largeWriter.me!)!;
    for (let t = 0; t < 10; t++) {
      doc.transact(() => {
        for (let k = 0; k < 500; k++)
          largeWriter.say(`an earlier contribution, number ${t * 500 + k}, with a few words`);
      });
      await until(() => largeWriter.saved, 'bulk saved');
    }
    expect(largeWriter.log(largeWriter.me!)).toHaveLength(5000);
    await until(() => server.app.meetings.peek(large.meetingId)!.order.length === 5000, 'order marks');
    const logBytes = statSync(logFile(dataDir, large.meetingId)).size;
    const inLarge = await perEdit(largeWriter, large.meetingId, 50);
    console.log(
      `[durability] bytes appended per small edit: ${inSmall.toFixed(1)} in an empty meeting, ` +
        `${inLarge.toFixed(1)} in a meeting holding 5,000 entries (log ${logBytes} bytes)`,
    );
    expect(inLarge).toBeLessThan(inSmall * 1.25 + 16);
    expect(inLarge).toBeLessThan(400);
  });
});

/** A meeting with a few saved words; the server is stopped afterwards so its files can be damaged. */
async function meetingOnDisk(dataDir: string, words: readonly string[]) {
  const server = await startServer({ dataDir });
  const opened = await openMeeting(server);
  const writer = await connect(server, await join(server, opened, 'Writer'));
  for (const w of words) writer.say(w);
  await until(() => writer.saved && said(writer, writer.me!).length === words.length, 'saved');
  await server.app.meetings.peek(opened.meetingId)!.flushed();
  return {
    server,
    opened,
    writerId: writer.me!,
    writer,
    stop: async () => {
      writer.close();
      await server.stop();
    },
  };
}

/** A fresh device on `opened`'s link: connected (and holding `expected` words of `voice`), or refused. */
async function fresh(
  server: TestServer,
  opened: Admission,
  voice: string,
  expected: number,
): Promise<MeetingConnection> {
  const c = device(server.url, opened);
  await until(() => c.status === 'connected' || c.status === 'refused', 'connected or refused');
  if (c.status === 'connected') await until(() => said(c, voice).length >= expected, 'words loaded');
  return c;
}

describe('start-up with damaged storage', () => {
  it('a record cut short at the end of a log (a crash mid-append) is dropped; everything before it loads', async () => {
    const dataDir = await tempDir();
    const words = ['first words', 'second words', 'third words'];
    const { opened, writerId, stop } = await meetingOnDisk(dataDir, words);
    await stop();
    const file = logFile(dataDir, opened.meetingId);
    const before = await readFile(file);
    // A further update of the writer's voice, cut in the middle of its record.
    const docs = docsOnDisk(decodeRecords(before, file).updates);
    const copy = new Y.Doc({ gc: false });
    Y.applyUpdate(copy, Y.encodeStateAsUpdate(docs.get(writerId)!));
    const sv = Y.encodeStateVector(copy);
    copy.getArray<VoiceEntry>(VOICE_LOG).push([{ t: 'say', id: randomEntryId(), text: 'torn words', at: Date.now() }]);
    const torn = encodeRecords([{ doc: writerId, update: Y.encodeStateAsUpdate(copy, sv) }]);
    await appendFile(file, torn.subarray(0, Math.floor(torn.length / 2)));

    const again = await startServer({ dataDir });
    const c = await fresh(again, opened, writerId, words.length);
    expect(c.connectError).toBeNull();
    expect(said(c, writerId)).toEqual(words);
    expect((await api<{ damaged: unknown[] }>(`${again.url}/api/health`, 'GET')).body.damaged).toEqual([]);
    // The torn tail was cut off: the log is whole again, and takes new words after what was there.
    c.say('words after the restart');
    await until(() => c.saved, 'saved');
    const after = await readFile(file);
    expect(after.subarray(0, before.length).equals(before)).toBe(true);
    expect(decodeRecords(after, file).validLength).toBe(after.length);
    expect(after.includes(Buffer.from('torn words'))).toBe(false);
    expect(saidOnDisk(dataDir, opened.meetingId).get(c.me!)).toEqual(['words after the restart']);
  });

  it('garbage in the middle of one log: that meeting answers "unavailable", is reported, and is kept byte for byte; the others work', async () => {
    const dataDir = await tempDir();
    const damaged = await meetingOnDisk(dataDir, ['words that must be kept', 'more words', 'and more']);
    const healthy = await openMeeting(damaged.server);
    const healthyWriter = await connect(damaged.server, await join(damaged.server, healthy, 'Healthy'));
    healthyWriter.say('words in a healthy meeting');
    await until(() => healthyWriter.saved, 'saved');
    healthyWriter.close();
    await damaged.stop();

    const file = logFile(dataDir, damaged.opened.meetingId);
    const bytes = await readFile(file);
    const { updates } = decodeRecords(bytes, file);
    expect(updates.length).toBeGreaterThan(3);
    // Overwrite 24 bytes in the middle of the log.
    const mid = Math.floor(bytes.length / 2);
    bytes.fill(0xa5, mid, mid + 24);
    await writeFile(file, bytes);

    const server = await startServer({ dataDir });
    // Reported by the start-up scan, before anyone opens the meeting.
    await untilAsync(async () => {
      const ready = await api<{ damaged: Array<{ meetingId: string }> }>(`${server.url}/readyz`, 'GET');
      return ready.body.damaged.some((d) => d.meetingId === damaged.opened.meetingId);
    }, '/readyz lists the damaged meeting');
    expect(server.app.meetings.size).toBe(0);
    const refused = await fresh(server, damaged.opened, damaged.writerId, 3);
    expect(refused.status).toBe('refused');
    expect(refused.connectError?.code).toBe(ConnectError.unavailable);
    const health = await api<{ damaged: Array<{ meetingId: string; reason: string }> }>(
      `${server.url}/api/health`,
      'GET',
    );
    expect(health.body.damaged).toEqual([
      { meetingId: damaged.opened.meetingId, reason: expect.stringMatching(/bad record at byte \d+/) },
    ]);
    console.log(`[durability] damaged log reported: ${JSON.stringify(health.body.damaged)}`);

    // Every other meeting keeps working: it loads, takes new words and saves them.
    const ok = await fresh(server, healthy, healthyWriter.me!, 1);
    expect(ok.connectError).toBeNull();
    expect(said(ok, healthyWriter.me!)).toEqual(['words in a healthy meeting']);
    const back = device(server.url, { meetingId: healthy.meetingId, personalToken: healthy.personalToken });
    await until(() => back.status === 'connected' && back.me !== null, 'connected');
    back.say('new words after the restart');
    await until(() => back.saved, 'saved in the healthy meeting');
    expect(saidOnDisk(dataDir, healthy.meetingId).get(back.me!)).toEqual(['new words after the restart']);

    // A second attempt is refused the same way; the damaged file is untouched and a copy kept beside it.
    const again = await fresh(server, damaged.opened, damaged.writerId, 3);
    expect(again.connectError?.code).toBe(ConnectError.unavailable);
    expect((await readFile(file)).equals(bytes)).toBe(true);
    const copies = readdirSync(path.dirname(file)).filter((f) =>
      f.startsWith(`${damaged.opened.meetingId}.ylog.damaged-`),
    );
    expect(copies.length).toBeGreaterThanOrEqual(1);
    for (const f of copies) expect(readFileSync(path.join(path.dirname(file), f)).equals(bytes)).toBe(true);
  });

  it('stale temp files of record files and update logs are ignored', async () => {
    const dataDir = await tempDir();
    const { opened, writerId, stop } = await meetingOnDisk(dataDir, ['kept words']);
    await stop();
    const db = await recordFiles(dataDir);
    const networkFile = Object.keys(db).find((f) => f.startsWith('networks'))!;
    await writeFile(path.join(dataDir, `${networkFile}.tmp`), '{"version":2,"meetings":{}, "half-written');
    await writeFile(`${logFile(dataDir, opened.meetingId)}.tmp`, Buffer.from('garbage from a crash during compaction'));

    const again = await startServer({ dataDir });
    const c = await fresh(again, opened, writerId, 1);
    expect(c.connectError).toBeNull();
    expect(said(c, writerId)).toEqual(['kept words']);
    const after = await recordFiles(dataDir);
    delete after[`${networkFile}.tmp`];
    expect(after).toEqual(db);
    // And it writes as before.
    const writer = device(again.url, opened);
    await until(() => writer.status === 'connected' && writer.me !== null, 'connected');
    writer.say('new words');
    await until(() => writer.saved, 'saved');
    expect((await api<{ damaged: unknown[] }>(`${again.url}/api/health`, 'GET')).body.damaged).toEqual([]);
  });

  it.each([
    ['invalid JSON', '{"version":1,"networks":{},"meetings":{'],
    [
      'a wrong shape',
      JSON.stringify({ version: 1, networks: [], meetings: 'none', participants: {}, sessions: {}, access: {} }),
    ],
  ])(
    'db.json holding %s: the server refuses to start, names the file, and changes nothing',
    { timeout: 40_000 },
    async (_what, content) => {
      const dataDir = await tempDir();
      const dbFile = path.join(dataDir, 'db.json');
      await writeFile(dbFile, content);
      const before = await readFile(dbFile);
      const child = await spawnServer({ dataDir, waitListening: false });
      const exit = await child.exited;
      expect(exit.code).not.toBe(0);
      expect(exit.code).not.toBeNull();
      expect(child.stderr()).toContain(dbFile);
      expect(child.output()).not.toContain('Polyphony is running');
      expect((await readFile(dbFile)).equals(before)).toBe(true);
      expect(existsSync(path.join(dataDir, 'db.json.tmp'))).toBe(false);
      console.log(
        `[durability] db.json with ${_what}: exit ${exit.code}; stderr: ${child.stderr().trim().split('\n').slice(-3).join(' | ')}`,
      );
    },
  );
});
