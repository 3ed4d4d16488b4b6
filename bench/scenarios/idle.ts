/**
 * Scenario 2 — many small meetings, mostly idle: M meetings × K participants, every participant
 * connected (opened in bounded batches), then a light trickle of edits. Measures the server's
 * resident memory per connection and per meeting (RSS over an idle, warmed-up server), its CPU
 * while idle, and the trickle edits' edit-to-everyone latency.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Admission } from '../../shared/protocol.js';
import { BaselineClient, PolyphonyClient, processCpuMs, type BenchClient } from '../lib/clients.js';
import { joinMeeting, openMeeting } from '../lib/http.js';
import { machineCpuMs, startServer, type ServerChild, type Side } from '../lib/proc.js';
import { Tracker } from '../lib/tracker.js';
import { median, pool, sleep, until } from '../lib/util.js';
import { withTimeout } from '../lib/probe.js';
import { summarise, type LatencySummary } from './fanout.js';

export interface IdleParams {
  meetings: number;
  perMeeting: number;
  connectBatch: number;
  tricklePerS: number;
  trickleS: number;
  drainS: number;
}

export interface IdleResult {
  side: Side;
  meetings: number;
  connections: number;
  /** Polyphony: opening the meetings and joining everyone over HTTP. */
  httpSetupMs: number | null;
  /** Polyphony: median latency of the first and the last tenth of the joins (the store grows meanwhile). */
  joinMs: { first: number; last: number } | null;
  /** Polyphony: meetings held in memory right after the HTTP setup, before anyone connected (/api/health). */
  loadedAfterHttp: number | null;
  connectMs: number;
  /** Server CPU time while connecting everyone (both waves, until each connection synced), ms. */
  connectCpuMs: number;
  /** Polyphony: server CPU time during the HTTP setup (opening the meetings and the joins), ms. */
  httpCpuMs: number | null;
  /** connect → synced of every connection (ms): from creating the client until it holds every document of its meeting. */
  synced: LatencySummary;
  /** The same, for the first connection of each meeting, and for the others. */
  syncedFirst: LatencySummary;
  syncedRest: LatencySummary;
  rssMB: { base: number; afterHttp: number | null; afterFirst: number; afterAll: number; peak: number };
  /** (RSS with everyone connected − idle server RSS) ÷ connections, and ÷ meetings. */
  perConnectionKB: number;
  perMeetingKB: number;
  /** RSS added by the 2nd…Kth connection of already-open meetings, per connection. */
  marginalPerConnectionKB: number;
  /** RSS added by the first connection of each meeting (the meeting in memory plus one connection). */
  firstConnectionPerMeetingKB: number;
  /** Live JS heap after a forced full GC (through the inspector), at the same points as rssMB. */
  heapMB: { base: number; afterHttp: number | null; afterFirst: number; afterAll: number };
  /** The same divisions as for RSS, on the live heap: no garbage, no retained free pages. */
  heapPerConnectionKB: number;
  /** The second wave of connecting (2nd…Kth of each meeting), process.hrtime µs: a profile's window. */
  secondWaveUs: [number, number];
  heapPerMeetingKB: number;
  heapMarginalPerConnectionKB: number;
  idleCpuPct: number;
  trickle: { sent: number; latency: LatencySummary; incomplete: number; cpuPct: number; othersCpuPct: number };
  converged: boolean;
  benchRssMB: number;
}

const MB = 1024 * 1024;
const KB = 1024;

/**
 * After `ms` of quiet: the live heap after a forced full GC, then RSS (so every RSS reading is
 * taken after a full GC too, and the deltas compare like with like).
 */
async function checkpoint(server: ServerChild, ms: number): Promise<{ rss: number; heap: number }> {
  await sleep(ms);
  const heap = (await server.heapAfterGc()).used;
  await sleep(500);
  return { rss: server.memory().rss, heap };
}

export async function idleRun(
  side: Side,
  p: IdleParams,
  ctx: { run: string; logDir: string; serverRoot?: string; log: (s: string) => void; cpuProfDir?: string },
): Promise<IdleResult> {
  const M = p.meetings;
  const K = p.perMeeting;
  const dataDir = side === 'polyphony' ? await mkdtemp(path.join(tmpdir(), 'polyphony-bench-')) : undefined;
  const server = await startServer(side, {
    logFile: path.join(ctx.logDir, `idle-${side}-${ctx.run}.log`),
    ...(dataDir ? { dataDir } : {}),
    ...(ctx.serverRoot ? { serverRoot: ctx.serverRoot } : {}),
    ...(ctx.cpuProfDir ? { cpuProfDir: ctx.cpuProfDir } : {}),
    inspect: true,
  });
  const tracker = new Tracker(() => K - 1);
  const sink = { entry: (c: number, text: string) => tracker.received(c, text) };
  const clients: BenchClient[] = new Array<BenchClient>(M * K);
  const opened: BenchClient[] = [];
  try {
    // ── warm-up: exercise every code path once, then take the idle baseline ──
    {
      const warm = new Tracker(() => 1);
      const wsink = { entry: (c: number, text: string) => warm.received(c, text) };
      let a: BenchClient;
      let b: BenchClient;
      if (side === 'polyphony') {
        const first = await openMeeting(server.url, 'Warm A');
        const second = await joinMeeting(server.url, first, 'Warm B');
        a = await PolyphonyClient.connect(server.url, first, 0, wsink);
        b = await PolyphonyClient.connect(server.url, second, 1, wsink);
      } else {
        a = await BaselineClient.connect(server.url, 'warm', 0, wsink, { awareness: true });
        b = await BaselineClient.connect(server.url, 'warm', 1, wsink, { awareness: true });
      }
      await sleep(200);
      const { marker, text } = warm.compose(0, 0, false);
      warm.bindEntry(marker, a.write(text));
      await until(() => warm.allDelivered(), 'the warm-up edit', 10_000);
      a.close();
      b.close();
    }
    const base = await checkpoint(server, 2000);
    ctx.log(`    idle server RSS ${(base.rss / MB).toFixed(1)} MB, live heap ${(base.heap / MB).toFixed(1)} MB`);

    // ── Polyphony: open the meetings and join everyone over HTTP ──
    let admissions: Admission[][] = [];
    let httpSetupMs: number | null = null;
    let afterHttp: { rss: number; heap: number } | null = null;
    let joinMs: IdleResult['joinMs'] = null;
    let loadedAfterHttp: number | null = null;
    let httpCpuMs: number | null = null;
    if (side === 'polyphony') {
      const t0 = performance.now();
      const httpCpu0 = server.cpuMs();
      const firsts = await pool(
        Array.from({ length: M }, (_, m) => m),
        Math.min(p.connectBatch, 16),
        (m) => openMeeting(server.url, `M${m} P0`),
      );
      const pairs = firsts.flatMap((first, m) => Array.from({ length: K - 1 }, (_, k) => ({ first, m, k: k + 1 })));
      const joinTimes: number[] = [];
      const joined = await pool(pairs, Math.min(p.connectBatch, 16), async ({ first, m, k }, i) => {
        const j0 = performance.now();
        const a = await joinMeeting(server.url, first, `M${m} P${k}`);
        joinTimes[i] = performance.now() - j0;
        return a;
      });
      const tenth = Math.max(1, Math.floor(joinTimes.length / 10));
      joinMs = { first: median(joinTimes.slice(0, tenth)), last: median(joinTimes.slice(-tenth)) };
      admissions = firsts.map((first) => [first]);
      pairs.forEach(({ m }, i) => admissions[m]!.push(joined[i]!));
      httpSetupMs = performance.now() - t0;
      httpCpuMs = server.cpuMs() - httpCpu0;
      const health = (await (await fetch(`${server.url}/api/health`)).json()) as { meetingsLoaded?: number };
      loadedAfterHttp = health.meetingsLoaded ?? null;
      afterHttp = await checkpoint(server, 2000);
      ctx.log(
        `    ${M} meetings, ${M * K} participants over HTTP in ${(httpSetupMs / 1000).toFixed(1)} s; ` +
          `RSS ${(afterHttp.rss / MB).toFixed(1)} MB, live heap ${(afterHttp.heap / MB).toFixed(1)} MB`,
      );
    }

    const syncedMs: number[] = [];
    const syncedFirstMs: number[] = [];
    const syncedRestMs: number[] = [];
    const connectOne = async (m: number, k: number): Promise<void> => {
      const index = m * K + k;
      const c =
        side === 'polyphony'
          ? await PolyphonyClient.connect(server.url, admissions[m]![k]!, index, sink, 60_000, { probe: 'timing' })
          : await BaselineClient.connect(server.url, `room-${m}`, index, sink, {
              awareness: true,
              timeoutMs: 60_000,
              probe: 'timing',
            });
      clients[index] = c;
      opened.push(c);
      await withTimeout(c.probe!.synced, 60_000, `connection ${index} to sync`);
      syncedMs.push(c.probe!.connectToSyncedMs!);
      (k === 0 ? syncedFirstMs : syncedRestMs).push(c.probe!.connectToSyncedMs!);
    };

    // ── connect: first the first participant of every meeting, then everyone else ──
    const t1 = performance.now();
    const connectCpu0 = server.cpuMs();
    const firstWave = Array.from({ length: M }, (_, m) => ({ m, k: 0 }));
    await pool(firstWave, p.connectBatch, ({ m, k }) => connectOne(m, k));
    const firstWaveMs = performance.now() - t1;
    let connectCpuMs = server.cpuMs() - connectCpu0;
    const afterFirst = await checkpoint(server, 2000);
    const secondWave = Array.from({ length: M }, (_, m) =>
      Array.from({ length: K - 1 }, (_, k) => ({ m, k: k + 1 })),
    ).flat();
    const t2 = performance.now();
    const connectHr0 = Number(process.hrtime.bigint() / 1000n);
    const connectCpu1 = server.cpuMs();
    await pool(secondWave, p.connectBatch, ({ m, k }) => connectOne(m, k));
    const connectMs = firstWaveMs + (performance.now() - t2);
    connectCpuMs += server.cpuMs() - connectCpu1;
    const connectHr1 = Number(process.hrtime.bigint() / 1000n);
    if (side === 'polyphony') {
      await until(
        () => (clients as PolyphonyClient[]).every((c) => c.conn.people.size === K && c.conn.voices.size === K),
        'every client to see its meeting',
        60_000,
        50,
      );
    }
    const afterAll = await checkpoint(server, 3000);
    ctx.log(
      `    ${M * K} connections in ${(connectMs / 1000).toFixed(1)} s; RSS ${(afterAll.rss / MB).toFixed(1)} MB, ` +
        `live heap ${(afterAll.heap / MB).toFixed(1)} MB`,
    );

    // ── idle CPU: everyone connected, nobody writing ──
    const idle0 = server.cpuMs();
    const idleAt0 = performance.now();
    await sleep(5000);
    const idleCpuPct = (100 * (server.cpuMs() - idle0)) / (performance.now() - idleAt0);

    // ── trickle: edits spread over the meetings at a steady rate ──
    const total = Math.round(p.tricklePerS * p.trickleS);
    const cpu0 = server.cpuMs();
    const machine0 = machineCpuMs();
    const bench0 = processCpuMs();
    const at0 = performance.now();
    const start = performance.now() + 50;
    const gap = 1000 / Math.max(p.tricklePerS, 0.001);
    for (let seq = 0; seq < total; seq++) {
      const due = start + seq * gap;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      const m = (seq * 7919) % M;
      const k = seq % K;
      const writer = m * K + k;
      const { marker, text } = tracker.compose(writer, seq, true);
      tracker.bindEntry(marker, clients[writer]!.write(text));
    }
    const drainDeadline = performance.now() + p.drainS * 1000;
    while (!tracker.allDelivered() && performance.now() < drainDeadline) await sleep(5);
    const serverMs = server.cpuMs() - cpu0;
    const elapsed = performance.now() - at0;
    const cpuPct = (100 * serverMs) / elapsed;
    const othersCpuPct = (100 * (machineCpuMs() - machine0 - serverMs - (processCpuMs() - bench0))) / elapsed;
    const { values, incomplete } = tracker.latencies(true);
    const mem = server.memory();
    const connections = M * K;
    return {
      secondWaveUs: [connectHr0, connectHr1],
      side,
      meetings: M,
      connections,
      httpSetupMs,
      joinMs,
      loadedAfterHttp,
      connectMs,
      connectCpuMs,
      httpCpuMs,
      synced: summarise(syncedMs),
      syncedFirst: summarise(syncedFirstMs),
      syncedRest: summarise(syncedRestMs),
      rssMB: {
        base: base.rss / MB,
        afterHttp: afterHttp === null ? null : afterHttp.rss / MB,
        afterFirst: afterFirst.rss / MB,
        afterAll: afterAll.rss / MB,
        peak: mem.peak / MB,
      },
      perConnectionKB: (afterAll.rss - base.rss) / connections / KB,
      perMeetingKB: (afterAll.rss - base.rss) / M / KB,
      marginalPerConnectionKB: connections > M ? (afterAll.rss - afterFirst.rss) / (connections - M) / KB : NaN,
      firstConnectionPerMeetingKB: (afterFirst.rss - (afterHttp ?? base).rss) / M / KB,
      heapMB: {
        base: base.heap / MB,
        afterHttp: afterHttp === null ? null : afterHttp.heap / MB,
        afterFirst: afterFirst.heap / MB,
        afterAll: afterAll.heap / MB,
      },
      heapPerConnectionKB: (afterAll.heap - base.heap) / connections / KB,
      heapPerMeetingKB: (afterAll.heap - base.heap) / M / KB,
      heapMarginalPerConnectionKB: connections > M ? (afterAll.heap - afterFirst.heap) / (connections - M) / KB : NaN,
      idleCpuPct,
      trickle: { sent: total, latency: summarise(values), incomplete, cpuPct, othersCpuPct },
      converged: tracker.allDelivered() && tracker.strays === 0,
      benchRssMB: process.memoryUsage().rss / MB,
    };
  } finally {
    await pool(opened, 200, async (c) => c.close());
    await sleep(500);
    const code = await server.stop();
    if (code !== 0 && code !== null) ctx.log(`  (${side} server exited with code ${code})`);
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  }
}
