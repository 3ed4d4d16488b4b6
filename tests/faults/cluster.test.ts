/**
 * Fault tests of several instances (issue 9): three real servers (child processes, as `npm start`
 * runs them) on one PostgreSQL and one Redis, behind a round-robin proxy (no sticky sessions).
 *
 * - kill -9, at ≥ 30 seeded moments, of the instance that serves the meeting while 20 writers
 *   write through all of them: no acknowledged marker is missing from PostgreSQL at any kill
 *   point, nothing is duplicated, and every client (never recreated) converges by itself.
 * - SIGSTOP of the owner past its lease, then SIGCONT: it writes nothing after another instance
 *   took the meeting over (fencing), and every word still arrives exactly once.
 * Replay with CLUSTER_SEED=<seed>; change the number of kill points with CLUSTER_KILL_POINTS=<n>.
 */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import type { MeetingConnection } from '../../client/lib/connection.js';
import type { Admission } from '../../shared/protocol.js';
import type { DocUpdate } from '../../server/store/types.js';
import { VOICE_LOG, type VoiceEntry } from '../../shared/record.js';
import { join, openMeeting, tempDir, until } from '../helpers.js';
import { roundRobin } from '../proxy.js';
import { freshDatabase } from '../setup/pg.js';
import { testRedisUrl } from '../setup/cluster.js';
import { startPostgres, startRedis } from '../setup/services.js';
import {
  connected,
  device,
  docsOnDisk,
  freePort,
  prng,
  said,
  seedFrom,
  sleep,
  spawnServer,
  steadyWriters,
  countOf,
  type Child,
  type Writer,
} from './util.js';

const LEASE_MS = 2000;

interface Node {
  name: string;
  port: number;
  child: Child;
}

async function cluster(
  n: number,
  env: Record<string, string> = {},
  engines: { databaseUrl?: string; redisUrl?: string } = {},
) {
  const databaseUrl = engines.databaseUrl ?? (await freshDatabase());
  const redisUrl = engines.redisUrl ?? testRedisUrl();
  const dataDir = await tempDir('polyphony-cluster-');
  const start = async (name: string, port: number, extra: Record<string, string> = {}): Promise<Child> =>
    spawnServer({
      dataDir,
      port,
      env: {
        DATABASE_URL: databaseUrl,
        REDIS_URL: redisUrl,
        LEASE_MS: String(LEASE_MS),
        INSTANCE: name,
        ...env,
        ...extra,
      },
    });
  const nodes: Node[] = [];
  for (let i = 0; i < n; i++) {
    const port = await freePort();
    nodes.push({ name: `n${i}`, port, child: await start(`n${i}`, port) });
  }
  const proxy = await roundRobin(() => nodes.filter((x) => x.child.alive()).map((x) => x.port));
  // A connection per question: the database may have been stopped and started in between.
  const query = async <R extends pg.QueryResultRow>(text: string, values: unknown[]): Promise<R[]> => {
    const db = new pg.Client({ connectionString: databaseUrl });
    db.on('error', () => undefined);
    await db.connect();
    try {
      return (await db.query<R>(text, values)).rows;
    } finally {
      await db.end();
    }
  };
  const owner = async (meetingId: string): Promise<Node | undefined> => {
    const rows = await query<{ owner: string }>(
      'SELECT owner FROM meeting_leases WHERE meeting_id = $1 AND expires_at > now()',
      [meetingId],
    );
    const name = rows[0]?.owner.split('/')[0];
    return nodes.find((x) => x.name === name);
  };
  /** Every `say` text stored in PostgreSQL, by voice (straight from the rows). */
  const stored = async (meetingId: string): Promise<Map<string, string[]>> => {
    const rows = await query<{ doc: string; data: Buffer }>(
      'SELECT doc, data FROM doc_updates WHERE meeting_id = $1 ORDER BY seq',
      [meetingId],
    );
    const updates: DocUpdate[] = rows.map((r) => ({ doc: r.doc, update: new Uint8Array(r.data) }));
    const out = new Map<string, string[]>();
    for (const [id, d] of docsOnDisk(updates)) {
      if (id === 'meeting') continue;
      out.set(
        id,
        d
          .getArray<VoiceEntry>(VOICE_LOG)
          .toArray()
          .flatMap((e) => (e.t === 'say' ? [e.text] : [])),
      );
    }
    return out;
  };
  const close = async () => {
    await Promise.all(nodes.map((x) => x.child.kill('SIGTERM')));
  };
  return { nodes, proxy, owner, stored, start, close };
}

const marksOf = (c: MeetingConnection) => c.order.map((mk) => `${mk.v}/${mk.id}`);

describe('several instances under faults', () => {
  it(
    'kill -9 of the owner at seeded moments: no acknowledged edit lost or duplicated, everyone converges',
    { timeout: 420_000 },
    async () => {
      const seed = seedFrom('CLUSTER_SEED');
      const rand = prng(seed);
      const killPoints = Number(process.env.CLUSTER_KILL_POINTS ?? 30);
      console.log(`[cluster] seed ${seed} (replay with CLUSTER_SEED=${seed}), ${killPoints} kill points`);
      const c = await cluster(3);
      const opened = await openMeeting(c.proxy, 'Facilitator');
      const admissions: Admission[] = [opened];
      for (let i = 1; i < 20; i++) admissions.push(await join(c.proxy, opened, `Person ${i}`));
      const reader = await join(c.proxy, opened, 'Reader');
      const meetingId = opened.meetingId;
      const {
        writers,
        start: startWriting,
        stop: stopWriting,
      } = steadyWriters(admissions, c.proxy.url, () => 60 + Math.floor(rand() * 160), `-${seed}`);
      await Promise.all(writers.map((w) => connected(w.conn)));
      const stats = { kills: 0, ownerKills: 0, checkedInDb: 0, inFlight: 0, lost: 0, duplicated: 0, fullChecks: 0 };
      const problems: string[] = [];

      const fullCheck = async (label: string) => {
        stopWriting();
        stats.fullChecks++;
        const fresh = device(c.proxy.url, reader);
        await connected(fresh, 40_000);
        const all = [...writers.map((w) => w.conn), fresh];
        const done = () =>
          writers.every((w) => w.conn.status === 'connected' && w.conn.saved) &&
          writers.every((w) => w.written.every((m) => said(fresh, w.admission.participantId).includes(m))) &&
          all.every((x) => marksOf(x).join() === marksOf(fresh).join());
        try {
          await until(done, `${label}: every client reconnected, saved and converged`, 60_000);
        } catch (e) {
          const w = writers.find((x) => !(x.conn.status === 'connected' && x.conn.saved));
          problems.push(
            `${(e as Error).message} (e.g. ${w ? `${w.tag} ${w.conn.status} saved=${w.conn.saved}` : 'marks differ'})`,
          );
          throw e;
        }
        for (const w of writers) {
          const dup = [...countOf(said(fresh, w.admission.participantId))].filter(([, n]) => n > 1);
          if (dup.length) problems.push(`${label}: ${w.tag} has duplicated markers: ${dup.slice(0, 3).join(', ')}`);
          stats.duplicated += dup.length;
        }
        const marks = marksOf(fresh);
        if (marks.length !== new Set(marks).size) problems.push(`${label}: an entry carries two order marks`);
        fresh.close();
      };

      startWriting();
      const started = Date.now();
      try {
        for (let k = 0; k < killPoints; k++) {
          if (k % 5 === 4) {
            await fullCheck(`after kill ${k}`);
            startWriting();
          }
          const delay = rand() < 0.3 ? Math.floor(rand() * 500) : 500 + Math.floor(rand() * 1500);
          await sleep(delay);
          // The instance that serves the meeting, most of the time; now and then another one.
          const owner = await c.owner(meetingId);
          const victim =
            owner && rand() < 0.8 ? owner : c.nodes.filter((x) => x.child.alive())[Math.floor(rand() * 3) % 3]!;
          if (!victim.child.alive()) continue;
          const acked = writers.map((w) => w.written.slice(0, w.acked));
          await victim.child.kill('SIGKILL');
          stats.kills++;
          if (victim === owner) stats.ownerKills++;
          const db = await c.stored(meetingId);
          stats.checkedInDb += acked.reduce((n, a) => n + a.length, 0);
          stats.inFlight += writers.reduce((n, w, i) => n + w.written.length - acked[i]!.length, 0);
          writers.forEach((w, i) => {
            const counts = countOf(db.get(w.admission.participantId) ?? []);
            const missing = acked[i]!.filter((m) => !counts.has(m));
            if (missing.length) {
              stats.lost += missing.length;
              problems.push(`kill ${k}: ${missing.length} acknowledged markers of ${w.tag} missing in PostgreSQL`);
            }
            const dup = [...counts].filter(([, n]) => n > 1);
            if (dup.length) {
              stats.duplicated += dup.length;
              problems.push(`kill ${k}: ${w.tag} markers stored twice`);
            }
          });
          // A supervisor restarts it (as a new instance); the others serve meanwhile.
          victim.child = await c.start(victim.name, victim.port);
        }
        await fullCheck('final');
      } finally {
        stopWriting();
        const written = writers.reduce((n, w) => n + w.written.length, 0);
        const acked = writers.reduce((n, w) => n + w.acked, 0);
        console.log(
          `[cluster] seed ${seed}: ${stats.kills} kills (${stats.ownerKills} of the owner) in ` +
            `${((Date.now() - started) / 1000).toFixed(1)} s; ${written} edits written, ${acked} acknowledged; ` +
            `${stats.checkedInDb} acknowledged markers looked up in PostgreSQL over all kills ` +
            `(${stats.inFlight} unacknowledged in flight at the kills); lost: ${stats.lost}, duplicated: ${stats.duplicated}; ` +
            `full convergence checks: ${stats.fullChecks}`,
        );
        for (const p of problems) console.log(`[cluster] PROBLEM ${p}`);
      }
      expect(stats.kills).toBeGreaterThanOrEqual(Math.min(25, killPoints));
      expect(stats.lost, 'acknowledged edits lost').toBe(0);
      expect(stats.duplicated, 'duplicated markers').toBe(0);
      expect(problems).toEqual([]);
      for (const w of writers) w.conn.close();
      await c.close();
    },
  );

  it(
    'an owner paused past its lease (SIGSTOP, then SIGCONT) writes nothing after the takeover',
    { timeout: 120_000 },
    async () => {
      // A long group-commit window on every instance: the paused owner holds applied, unsaved words.
      const c = await cluster(2, { FLUSH_WINDOW_MS: '600' });
      const [a, b] = c.nodes as [Node, Node];
      const opened = await openMeeting({ url: a.child.url }, 'Facilitator');
      const other = await join({ url: a.child.url }, opened, 'Other');
      const onA = device(a.child.url, opened);
      await connected(onA);
      expect((await c.owner(opened.meetingId))?.name).toBe('n0');
      const onB = device(b.child.url, other);
      await connected(onB);
      await until(() => onA.saved && onB.saved, 'both saved');

      onA.say('before the pause');
      await until(() => said(onB, opened.participantId).includes('before the pause'), 'B sees it (applied on A)');
      expect(onA.saved).toBe(false);
      a.child.proc.kill('SIGSTOP');
      try {
        // B's instance notices, takes the meeting over once the lease has run out, and serves it.
        await until(() => onB.status !== 'connected', 'B was told to reconnect', 20_000);
        onB.say('while A is paused');
        await until(() => onB.status === 'connected' && onB.saved, 'B writes through the new owner', 30_000);
        expect((await c.owner(opened.meetingId))?.name).toBe('n1');
      } finally {
        a.child.proc.kill('SIGCONT');
      }
      // A finds it lost the meeting, stops serving it; its device reconnects (relayed to B) and
      // sends again what was never acknowledged.
      await until(() => onA.status === 'connected' && onA.saved, 'A reconnected and saved', 30_000);
      const fresh = device(b.child.url, other);
      await connected(fresh);
      await until(
        () =>
          said(fresh, opened.participantId).includes('before the pause') &&
          said(fresh, other.participantId).includes('while A is paused') &&
          [onA, onB].every((x) => marksOf(x).join() === marksOf(fresh).join()),
        'everyone converges',
        30_000,
      );
      const marks = marksOf(fresh);
      expect(marks.length, 'one order mark per entry').toBe(new Set(marks).size);
      expect(said(fresh, opened.participantId).filter((t) => t === 'before the pause')).toHaveLength(1);
      const db = await c.stored(opened.meetingId);
      expect(db.get(opened.participantId)?.filter((t) => t === 'before the pause')).toHaveLength(1);
      expect(a.child.output()).toMatch(/lease lost|another instance serves this meeting now/);
      for (const x of [onA, onB, fresh]) x.close();
      await c.close();
    },
  );

  /** Writers on every instance write steadily; `during` runs meanwhile; then all must converge. */
  async function steadyWriting(
    c: Awaited<ReturnType<typeof cluster>>,
    during: (writers: Writer[]) => Promise<void>,
    /** Connect through the proxy (any instance) instead of each writer to one instance. */
    viaProxy = false,
  ): Promise<{ fresh: MeetingConnection; writers: Writer[] }> {
    const first = c.nodes[0]!.child;
    const opened = await openMeeting({ url: first.url }, 'Facilitator');
    const admissions = [opened];
    for (let i = 1; i < 6; i++) admissions.push(await join({ url: first.url }, opened, `Person ${i}`));
    const reader = await join({ url: first.url }, opened, 'Reader');
    // Each writer on one instance in turn (or any, through the proxy).
    const { writers, start, stop } = steadyWriters(
      admissions,
      (i) => (viaProxy ? c.proxy.url : c.nodes[i % c.nodes.length]!.child.url),
      () => 80,
    );
    await Promise.all(writers.map((w) => connected(w.conn)));
    start();
    try {
      await during(writers);
    } finally {
      stop();
    }
    const fresh = device(viaProxy ? c.proxy.url : first.url, reader);
    await connected(fresh, 40_000);
    await until(
      () =>
        writers.every((w) => w.conn.status === 'connected' && w.conn.saved) &&
        writers.every((w) => w.written.every((m) => said(fresh, w.admission.participantId).includes(m))) &&
        writers.every((w) => marksOf(w.conn).join() === marksOf(fresh).join()),
      () =>
        `everyone saved and converged: ${writers.map((w) => `${w.tag} ${w.conn.status} saved=${w.conn.saved}`).join(', ')}`,
      60_000,
    );
    for (const w of writers) {
      const counts = countOf(said(fresh, w.admission.participantId));
      expect(
        [...counts].filter(([, n]) => n > 1),
        `${w.tag}: nothing duplicated`,
      ).toEqual([]);
    }
    const marks = marksOf(fresh);
    expect(marks.length, 'one order mark per entry').toBe(new Set(marks).size);
    return { fresh, writers };
  }

  /** No instance died on the way (an unhandled error from Redis or PostgreSQL would end one). */
  function allAlive(c: Awaited<ReturnType<typeof cluster>>): void {
    for (const n of c.nodes) expect(n.child.alive(), `${n.name} died:\n${n.child.output().slice(-1500)}`).toBe(true);
  }

  it('Redis restarts mid-meeting: nothing is lost, everyone converges after', { timeout: 120_000 }, async () => {
    const redis = (await startRedis())!;
    const c = await cluster(2, {}, { redisUrl: redis.url });
    try {
      const { writers, fresh } = await steadyWriting(c, async () => {
        await sleep(800);
        await redis.down();
        await sleep(2500);
        await redis.up();
        await sleep(1500);
      });
      const total = writers.reduce((n, w) => n + w.written.length, 0);
      allAlive(c);
      console.log(
        `[cluster] Redis killed for 2.5 s and restarted: ${total} edits written over it, all saved, converged`,
      );
      fresh.close();
      for (const w of writers) w.conn.close();
    } finally {
      await c.close();
      await redis.stop();
    }
  });

  it(
    'PostgreSQL stops: no "saved" while it is down, the writers are told, nothing is lost after it returns',
    { timeout: 150_000 },
    async () => {
      const db = await startPostgres();
      const c = await cluster(2, {}, { databaseUrl: db.url });
      try {
        let savedWhileDown = 0;
        let told = 0;
        const { writers, fresh } = await steadyWriting(c, async (writers) => {
          await until(() => writers.every((w) => w.conn.saved || w.written.length < 3), 'writing', 10_000);
          await sleep(500);
          await db.down();
          const at = writers.map((w) => w.written.length);
          const seen = new Set<Writer>();
          const unsubscribe = writers.map((w, i) =>
            w.conn.subscribe(() => {
              if (w.written.length > at[i]! && w.conn.saved && w.conn.status === 'connected') savedWhileDown++;
              if (w.conn.storage === 'failing' || w.conn.status !== 'connected') seen.add(w);
            }),
          );
          await sleep(4000);
          told = seen.size;
          for (const u of unsubscribe) u();
          await db.up();
        });
        console.log(
          `[cluster] PostgreSQL down for 4 s: "saved" shown ${savedWhileDown} times for words written while it was down; ` +
            `${told} of ${writers.length} writers told (storage failing or offline); after it returned all saved and converged`,
        );
        allAlive(c);
        expect(savedWhileDown).toBe(0);
        expect(told).toBe(writers.length);
        const stored = await c.stored(writers[0]!.admission.meetingId);
        for (const w of writers) {
          const inDb = stored.get(w.admission.participantId) ?? [];
          expect(
            w.written.filter((m) => !inDb.includes(m)),
            `${w.tag}: every word in PostgreSQL`,
          ).toEqual([]);
        }
        fresh.close();
        for (const w of writers) w.conn.close();
      } finally {
        await c.close();
        await db.stop();
      }
    },
  );

  it(
    'SIGTERM drains the owner: it hands the meeting over at once, and nothing is lost',
    { timeout: 120_000 },
    async () => {
      const c = await cluster(2, { LEASE_MS: '60000' });
      try {
        let exit: unknown = null;
        let movedTo: string | undefined;
        const { writers, fresh } = await steadyWriting(
          c,
          async (writers) => {
            await sleep(800);
            const owner = await c.owner(writers[0]!.admission.meetingId);
            expect(owner).toBeDefined();
            exit = await owner!.child.kill('SIGTERM');
            // With a lease of a minute, only the release at shutdown lets the other take over now.
            await until(() => writers.every((w) => w.conn.status === 'connected'), 'everyone back', 20_000);
            movedTo = (await c.owner(writers[0]!.admission.meetingId))?.name;
            expect(movedTo).not.toBe(owner!.name);
            await sleep(800);
          },
          true,
        );
        expect(exit).toEqual({ code: 0, signal: null });
        const total = writers.reduce((n, w) => n + w.written.length, 0);
        console.log(
          `[cluster] SIGTERM of the owner: exit 0, the meeting moved to ${movedTo}; ${total} edits, all saved, converged`,
        );
        fresh.close();
        for (const w of writers) w.conn.close();
      } finally {
        await c.close();
      }
    },
  );
});
