/**
 * `npm run migrate-store`: an embedded store copied into PostgreSQL (a real server, a fresh
 * database), run as the real command in a child process.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { randomId } from '../shared/ids.js';
import { FileStore } from '../server/store/fileStore.js';
import { PgStore } from '../server/store/pgStore.js';
import type { DocUpdate, MeetingRecord, ParticipantRecord } from '../server/store/types.js';
import { onCleanup, tempDir } from './helpers.js';
import { freshDatabase } from './setup/pg.js';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '..');

function runMigrate(dataDir: string, to: string) {
  return run(process.execPath, ['--import', 'tsx', 'scripts/migrate-store.ts', '--to', to], {
    cwd: ROOT,
    env: { ...process.env, DATA_DIR: dataDir },
  });
}

/** Real Yjs updates: a voice writing a few entries, one update per edit. */
function edits(n: number): Uint8Array[] {
  const doc = new Y.Doc();
  const out: Uint8Array[] = [];
  doc.on('update', (u: Uint8Array) => out.push(u));
  const items = doc.getArray<Y.Map<unknown>>('items');
  for (let i = 0; i < n; i++) {
    const m = new Y.Map<unknown>();
    m.set('text', `entry ${i}`);
    items.push([m]);
    if (i % 3 === 2) items.delete(0, 1);
  }
  return out;
}

function state(updates: readonly DocUpdate[]): Map<string, string> {
  const docs = new Map<string, Y.Doc>();
  for (const { doc, update } of updates) {
    if (!docs.has(doc)) docs.set(doc, new Y.Doc());
    Y.applyUpdate(docs.get(doc)!, update);
  }
  return new Map([...docs].map(([k, d]) => [k, Buffer.from(Y.encodeStateAsUpdate(d)).toString('base64')]));
}

describe('npm run migrate-store', () => {
  it('copies records and update logs into PostgreSQL; every document merges to the identical state', async () => {
    const dir = await tempDir('polyphony-migrate-');
    const src = await FileStore.open(dir);
    const meetings: Array<{ m: MeetingRecord; people: ParticipantRecord[] }> = [];
    for (let n = 0; n < 3; n++) {
      const networkId = randomId();
      for (let k = 0; k < 2; k++) {
        const m: MeetingRecord = {
          id: randomId(),
          networkId,
          previous: k === 0 ? null : meetings.at(-1)!.m.id,
          openedAt: 1_000 * (n * 2 + k + 1),
          joinHash: 'a'.repeat(64),
          status: k === 0 ? 'ended' : 'open',
          locked: false,
          facilitators: [],
          ...(k === 0 ? { endedAt: 9_999 } : {}),
        };
        const people: ParticipantRecord[] = ['Anna', 'Maria'].map((name, i) => ({
          id: randomId(),
          meetingId: m.id,
          tokenHash: `${n}${i}`.repeat(32),
          name,
          relation: i === 0 ? 'it is about me' : 'psychologist',
          aboutMe: i === 0,
          joinedAt: m.openedAt + i,
          revoked: false,
        }));
        m.facilitators = [people[1]!.id];
        await src.transaction((tx) => {
          tx.createMeeting(k === 0 ? { id: networkId, name: `Network ${n}`, firstContactAt: 500 } : null, m, people);
          tx.addToSession(`${n}`.repeat(64), people[0]!.tokenHash, m.openedAt);
          tx.logAccess({ meetingId: m.id, participantId: people[0]!.id, action: 'exported-json', at: m.openedAt + 5 });
        });
        const log: DocUpdate[] = [
          ...edits(12).map((update) => ({ doc: 'meeting', update })),
          ...edits(7).map((update) => ({ doc: people[0]!.id, update })),
          ...edits(5).map((update) => ({ doc: people[1]!.id, update })),
        ];
        await src.appendUpdates(m.id, log.slice(0, 10));
        await src.appendUpdates(m.id, log.slice(10));
        meetings.push({ m, people });
      }
    }
    // One meeting compacted (a snapshot then more edits), one erased (nothing left to copy).
    const compacted = meetings[1]!.m.id;
    const merged = await src.loadUpdates(compacted);
    await src.compact(compacted, [
      { doc: 'meeting', update: Y.mergeUpdates(merged.filter((u) => u.doc === 'meeting').map((u) => u.update)) },
      ...merged.filter((u) => u.doc !== 'meeting'),
    ]);
    await src.removeUpdates(meetings[2]!.m.id);
    const want = new Map<string, Map<string, string>>();
    for (const { m } of meetings) want.set(m.id, state(await src.loadUpdates(m.id)));
    await src.close();

    const url = await freshDatabase();
    const { stdout } = await runMigrate(dir, url);
    expect(stdout).toMatch(/copied and checked/);

    const pgStore = await PgStore.open({ connectionString: url, max: 2 });
    onCleanup(() => pgStore.close());
    for (const { m, people } of meetings) {
      expect(await pgStore.meeting(m.id)).toStrictEqual(m);
      expect((await pgStore.participants(m.id)).sort((a, b) => a.id.localeCompare(b.id))).toStrictEqual(
        [...people].sort((a, b) => a.id.localeCompare(b.id)),
      );
      expect(await pgStore.accessLog(m.id)).toHaveLength(1);
      expect(state(await pgStore.loadUpdates(m.id))).toEqual(want.get(m.id));
    }
    expect(await pgStore.loadUpdates(meetings[2]!.m.id)).toEqual([]);
    expect((await pgStore.session('0'.repeat(64)))?.members).toEqual([meetings[0]!.people[0]!.tokenHash]);
    expect((await pgStore.network(meetings[0]!.m.networkId))?.name).toBe('Network 0');

    // A second run into the same database refuses (and leaves it as it was).
    await expect(runMigrate(dir, url)).rejects.toMatchObject({ code: 1 });
    expect(state(await pgStore.loadUpdates(meetings[0]!.m.id))).toEqual(want.get(meetings[0]!.m.id));
  });
});
