/**
 * Several instances (`npm run bench:cluster`): two Polyphony instances (child processes) on one
 * throwaway PostgreSQL and one Redis, on this machine. A benchmark: it reports, it asserts nothing.
 *
 * 1. One meeting, 20 writers, 100 edits/s in all for 15 s, half of them connected to the meeting's
 *    owner and half to the other instance (relayed): edit → every other writer latency, by where
 *    the writer is connected, and each instance's CPU.
 * 2. 200 meetings × 4 people, each person connected to either instance in turn: how the meetings
 *    spread over the instances, RSS per instance, connect → welcome and first sync.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import * as Y from 'yjs';
import { MeetingConnection } from '../client/lib/connection.js';
import { VOICE_LOG, type VoiceEntry } from '../shared/record.js';
import type { Admission } from '../shared/protocol.js';
import { startPostgres, startRedis } from '../tests/setup/services.js';
import { joinMeeting, openMeeting } from './lib/http.js';
import { cpuMs, freePort, memory, ROOT } from './lib/proc.js';
import { percentile, round } from './lib/util.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, what: string, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(10);
  }
}

interface Instance {
  name: string;
  url: string;
  proc: ChildProcess;
}

async function instance(name: string, env: Record<string, string>): Promise<Instance> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const dataDir = await mkdtemp(path.join(tmpdir(), 'polyphony-bench-cluster-'));
  const proc = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      ...env,
      PORT: String(port),
      HOST: '127.0.0.1',
      PUBLIC_URL: url,
      CLIENT_DIR: '',
      DATA_DIR: dataDir,
      RATE_LIMITS: 'off',
      INSTANCE: name,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) return { name, url, proc };
    } catch {
      // not yet
    }
    await sleep(100);
  }
  throw new Error(`${name} did not start`);
}

function device(url: string, a: Admission): MeetingConnection {
  return new MeetingConnection({
    url,
    meetingId: a.meetingId,
    token: a.personalToken,
    socket: { forceNew: true, transports: ['websocket'] },
  });
}

const [db, redis] = await Promise.all([startPostgres(), startRedis()]);
if (!redis) throw new Error('needs redis-server (apt-get install redis-server)');
const env = { DATABASE_URL: db.url, REDIS_URL: redis.url };
const nodes = [await instance('one', env), await instance('two', env)];
const admin = new pg.Client({ connectionString: db.url });
await admin.connect();
const ownerOf = async (meetingId: string) =>
  (await admin.query<{ owner: string }>('SELECT owner FROM meeting_leases WHERE meeting_id = $1', [meetingId])).rows[0]
    ?.owner ?? '';

try {
  // ── 1. fan-out with half the writers relayed ──────────────────────────────────────────
  const opened = await openMeeting(nodes[0]!.url);
  const admissions = [opened];
  for (let i = 1; i < 20; i++) admissions.push(await joinMeeting(nodes[0]!.url, opened, `Writer ${i}`));
  const conns = admissions.map((a, i) => device(nodes[i % 2]!.url, a));
  await until(() => conns.every((c) => c.status === 'connected' && c.me !== null), 'writers connected');
  const owner = (await ownerOf(opened.meetingId)).split('/')[0];
  await until(() => conns.every((c) => conns.every((w) => c.voices.has(w.me!))), 'every voice known');
  const latency = { local: [] as number[], relayed: [] as number[] };
  conns.forEach((c) => {
    for (const [voice, doc] of c.voices) {
      if (voice === c.me) continue;
      const writer = conns.findIndex((w) => w.me === voice);
      const where = nodes[writer % 2]!.name === owner ? 'local' : 'relayed';
      doc.getArray<VoiceEntry>(VOICE_LOG).observe((e: Y.YArrayEvent<VoiceEntry>) => {
        for (const item of e.changes.added)
          for (const entry of item.content.getContent() as VoiceEntry[]) {
            const sent = entry.t === 'say' ? Number(entry.text.split(' ')[1]) : NaN;
            if (Number.isFinite(sent)) latency[where].push(Date.now() - sent);
          }
      });
    }
  });
  const cpu0 = nodes.map((n) => cpuMs(n.proc.pid!));
  const started = Date.now();
  let edits = 0;
  while (Date.now() - started < 15_000) {
    conns[edits % 20]!.say(`edit ${Date.now()}`);
    edits++;
    await sleep(10);
  }
  await until(
    () => latency.local.length + latency.relayed.length >= edits * 19 * 0.99,
    'deliveries arrived',
    30_000,
  ).catch(() => undefined);
  const cpu = nodes.map((n, i) => (cpuMs(n.proc.pid!) - cpu0[i]!) / (Date.now() - started));
  const pct = (xs: number[]) =>
    `${round(percentile(xs, 50))} / ${round(percentile(xs, 95))} / ${round(percentile(xs, 99))}`;
  console.log(`\nfan-out: 1 meeting, 20 writers, ${edits} edits in 15 s, owner "${owner}"`);
  console.log(`  edit → each other writer, writer on the owner: p50/p95/p99 ${pct(latency.local)} ms`);
  console.log(`  edit → each other writer, writer relayed:      p50/p95/p99 ${pct(latency.relayed)} ms`);
  console.log(`  CPU: ${nodes.map((n, i) => `${n.name} ${round(cpu[i]! * 100)}%`).join(', ')} of one core`);
  for (const c of conns) c.close();

  // ── 2. 200 meetings × 4 people over both instances ───────────────────────────────────
  const rss0 = nodes.map((n) => memory(n.proc.pid!).rss);
  const people: Array<{ conn: MeetingConnection; t0: number; synced: number | null }> = [];
  const meetingIds: string[] = [];
  let k = 0;
  for (let m = 0; m < 200; m++) {
    const first = await openMeeting(nodes[m % 2]!.url);
    meetingIds.push(first.meetingId);
    const list = [first];
    for (let p = 1; p < 4; p++) list.push(await joinMeeting(nodes[m % 2]!.url, first, `P${p}`));
    for (const a of list) {
      const t0 = performance.now();
      const conn = device(nodes[k++ % 2]!.url, a);
      const rec = { conn, t0, synced: null as number | null };
      conn.subscribe(() => {
        if (rec.synced === null && conn.status === 'connected' && conn.me && conn.voices.size >= 1)
          rec.synced = performance.now() - t0;
      });
      people.push(rec);
    }
  }
  await until(() => people.every((p) => p.synced !== null), 'everyone connected', 120_000);
  await sleep(1000);
  const owners = new Map<string, number>();
  for (const id of meetingIds) {
    const o = (await ownerOf(id)).split('/')[0]!;
    owners.set(o, (owners.get(o) ?? 0) + 1);
  }
  const rss = nodes.map((n, i) => memory(n.proc.pid!).rss - rss0[i]!);
  console.log(`\n200 meetings × 4 people, each person on either instance in turn (half of them relayed)`);
  console.log(`  meetings served: ${[...owners].map(([o, n]) => `${o} ${n}`).join(', ')}`);
  console.log(`  connect → welcome p50/p95/p99: ${pct(people.map((p) => p.synced!))} ms`);
  console.log(
    `  RSS grown by the 800 connections: ${nodes.map((n, i) => `${n.name} ${round(rss[i]! / 1048576)} MB`).join(', ')}` +
      ` (${round((rss[0]! + rss[1]!) / 800 / 1024)} KB per connection, both instances)`,
  );
  for (const p of people) p.conn.close();
} finally {
  await admin.end();
  for (const n of nodes) n.proc.kill('SIGTERM');
  await sleep(1500);
  await Promise.all([db.stop(), redis.stop()]);
}
process.exit(0);
