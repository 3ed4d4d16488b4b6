/**
 * `npm run migrate-store -- --to "$DATABASE_URL" [--from DIR]`: copy an embedded store (DATA_DIR,
 * or --from) into PostgreSQL — every record in one transaction, then each meeting's update log —
 * and check the copy: every record reads back equal, and every document of every meeting merges to
 * the identical Yjs state (Y.encodeStateAsUpdate of the merged updates). Stop the server first.
 * The target must be empty; nothing is changed in the source.
 */
import { isDeepStrictEqual, parseArgs } from 'node:util';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as Y from 'yjs';
import { FileStore } from '../server/store/fileStore.js';
import { PgStore } from '../server/store/pgStore.js';
import type { DocUpdate, Store } from '../server/store/types.js';

export interface MigrateResult {
  networks: number;
  meetings: number;
  participants: number;
  sessions: number;
  accessEntries: number;
  logs: number;
  updates: number;
  documents: number;
}

/** The Yjs state of each document of a meeting's log. */
function documents(updates: readonly DocUpdate[]): Map<string, Uint8Array> {
  const docs = new Map<string, Y.Doc>();
  for (const { doc, update } of updates) {
    let d = docs.get(doc);
    if (!d) docs.set(doc, (d = new Y.Doc()));
    Y.applyUpdate(d, update);
  }
  return new Map([...docs].map(([name, d]) => [name, Y.encodeStateAsUpdate(d)]));
}

export async function migrateStore(opts: {
  from: string;
  to: string;
  log?: (line: string) => void;
}): Promise<MigrateResult> {
  const log = opts.log ?? (() => undefined);
  const source = await FileStore.open(opts.from);
  let target: Store | null = null;
  try {
    const pgStore = await PgStore.open({ connectionString: opts.to });
    target = pgStore;
    const all = await source.everything();
    for (const n of all.networks.slice(0, 1)) {
      if (await pgStore.network(n.id)) throw new Error('the target database already holds these records');
    }
    const byMeeting = new Map<string, typeof all.participants>();
    for (const p of all.participants) byMeeting.set(p.meetingId, [...(byMeeting.get(p.meetingId) ?? []), p]);
    const networks = new Map(all.networks.map((n) => [n.id, n]));
    const withMeetings = new Set(all.meetings.map((m) => m.networkId));
    const lonely = all.networks.filter((n) => !withMeetings.has(n.id));
    if (lonely.length) throw new Error(`${lonely.length} networks without a meeting cannot be copied`);
    const meetings = [...all.meetings].sort((a, b) => a.openedAt - b.openedAt);
    log(`copying ${meetings.length} meetings of ${all.networks.length} networks…`);
    await pgStore.transaction((tx) => {
      const created = new Set<string>();
      for (const m of meetings) {
        const first = !created.has(m.networkId);
        created.add(m.networkId);
        tx.createMeeting(first ? (networks.get(m.networkId) ?? null) : null, m, byMeeting.get(m.id) ?? []);
      }
      for (const s of all.sessions) for (const member of s.members) tx.addToSession(s.hash, member, s.createdAt);
      for (const e of all.access) tx.logAccess(e);
    });

    const ids = await source.meetingIdsWithUpdates();
    let updates = 0;
    let docs = 0;
    log(`copying ${ids.length} update logs…`);
    for (const id of ids) {
      const from = await source.loadUpdates(id);
      if (from.length === 0) continue;
      await pgStore.appendUpdates(id, from);
      const back = await pgStore.loadUpdates(id);
      const want = documents(from);
      const got = documents(back);
      if (want.size !== got.size) throw new Error(`meeting ${id}: ${got.size} documents copied of ${want.size}`);
      for (const [doc, state] of want) {
        const copied = got.get(doc);
        if (!copied || Buffer.compare(Buffer.from(copied), Buffer.from(state)) !== 0) {
          throw new Error(`meeting ${id}: document ${doc} differs after the copy`);
        }
      }
      updates += from.length;
      docs += want.size;
    }

    // Every record reads back as it was.
    for (const m of all.meetings) {
      if (!isDeepStrictEqual(await pgStore.meeting(m.id), m)) throw new Error(`meeting ${m.id} differs after the copy`);
      const want = (byMeeting.get(m.id) ?? []).sort((a, b) => a.id.localeCompare(b.id));
      const got = (await pgStore.participants(m.id)).sort((a, b) => a.id.localeCompare(b.id));
      if (!isDeepStrictEqual(got, want)) throw new Error(`participants of meeting ${m.id} differ after the copy`);
      const wantLog = all.access.filter((e) => e.meetingId === m.id);
      if (!isDeepStrictEqual(await pgStore.accessLog(m.id), wantLog)) {
        throw new Error(`access log of meeting ${m.id} differs after the copy`);
      }
    }
    for (const n of all.networks) {
      if (!isDeepStrictEqual(await pgStore.network(n.id), n)) throw new Error(`network ${n.id} differs after the copy`);
    }
    for (const s of all.sessions) {
      if (!isDeepStrictEqual(await pgStore.session(s.hash), s)) throw new Error('a session differs after the copy');
    }
    const result: MigrateResult = {
      networks: all.networks.length,
      meetings: all.meetings.length,
      participants: all.participants.length,
      sessions: all.sessions.length,
      accessEntries: all.access.length,
      logs: ids.length,
      updates,
      documents: docs,
    };
    log(`copied and checked: ${JSON.stringify(result)}`);
    return result;
  } finally {
    await source.close();
    await target?.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const { values } = parseArgs({ options: { to: { type: 'string' }, from: { type: 'string' } } });
  const to = values.to ?? '';
  if (!/^postgres(ql)?:\/\//.test(to)) {
    process.stderr.write('usage: npm run migrate-store -- --to postgres://… [--from DATA_DIR]\n');
    process.exit(2);
  }
  const from = path.resolve(values.from ?? process.env.DATA_DIR ?? 'data');
  migrateStore({ from, to, log: (l) => process.stdout.write(`${l}\n`) }).then(
    () => process.exit(0),
    (e: unknown) => {
      process.stderr.write(`migrate-store failed: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(1);
    },
  );
}
