/**
 * Scenario 1 — fan-out: N participants in one meeting, each writing a short contribution every
 * `interval` ms (N × 1000 / edits-per-s; phases spread evenly), against one server child. Measures
 * edit-to-everyone latency, delivered updates per second, server CPU per delivered update, bytes
 * the clients received, server RSS after connect and at peak, edit → "saved" at the writer
 * (Polyphony), convergence.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { BaselineClient, PolyphonyClient, processCpuMs, type BenchClient } from '../lib/clients.js';
import { joinMeeting, openMeeting } from '../lib/http.js';
import { cpuSplitSince, machineCpuMs, startServer, type CpuSplit, type Side } from '../lib/proc.js';
import { Tracker } from '../lib/tracker.js';
import { percentile, pool, sleep, until } from '../lib/util.js';

export interface FanoutParams {
  participants: number;
  /** Contributions per second in all; each participant writes every `intervalMs` = participants × 1000 / editsPerS. */
  editsPerS: number;
  intervalMs: number;
  durationS: number;
  warmupS: number;
  drainS: number;
  connectBatch: number;
}

export interface LatencySummary {
  p50: number;
  p95: number;
  p99: number;
  max: number;
  n: number;
}

export interface FanoutResult {
  side: Side;
  run: string;
  profiled: boolean;
  setupMs: number;
  sent: number;
  measuredSent: number;
  /** Edit-to-everyone latency of the measured contributions (ms). */
  latency: LatencySummary;
  /** Polyphony: until every other client also holds the server's order mark (ms). */
  latencyWithOrder: LatencySummary | null;
  incomplete: number;
  deliveries: number;
  deliveredPerS: number;
  serverCpuMs: number;
  serverCpuPct: number;
  cpuPerDeliveryUs: number;
  /** The same by thread and mode: where the CPU goes (the main thread's JavaScript and socket syscalls, or GC and fsync on others). */
  cpuSplitPerDeliveryUs: CpuSplit;
  peakRssMB: number;
  endRssMB: number;
  /** Server RSS once everyone is connected and has seen everyone, before the load (1 s later). */
  rssAfterConnectMB: number;
  /** WebSocket payload bytes all clients received in the measured window (MB, 2^20). */
  bytesMB: number;
  /** Polyphony: edit → "saved" at the writer (its own voice's saved state vector covers the write), measured writes. */
  saved: (LatencySummary & { missing: number }) | null;
  converged: boolean;
  sameState: boolean;
  strays: number;
  benchCpuPct: number;
  benchLoopDelayP99Ms: number;
  /** WebSocket messages (and payload bytes) the clients received in the window, per delivered update. */
  framesPerDelivery: number;
  bytesPerDelivery: number;
  /** CPU used by everything else on the machine during the window (% of one core): noise. */
  othersCpuPct: number;
  loadavgAtStart: number;
  /** The measured window in µs of CLOCK_MONOTONIC (process.hrtime; V8 profiles use the same clock). */
  windowUs: [number, number];
}

export function summarise(values: readonly number[]): LatencySummary {
  return {
    p50: percentile(values, 50),
    p95: percentile(values, 95),
    p99: percentile(values, 99),
    max: values.length ? Math.max(...values) : NaN,
    n: values.length,
  };
}

const MB = 1024 * 1024;

export async function fanoutRun(
  side: Side,
  p: FanoutParams,
  ctx: { run: string; logDir: string; cpuProfDir?: string; serverRoot?: string; log: (s: string) => void },
): Promise<FanoutResult> {
  const n = p.participants;
  const loadavgAtStart = os.loadavg()[0] ?? NaN;
  const dataDir = side === 'polyphony' ? await mkdtemp(path.join(tmpdir(), 'polyphony-bench-')) : undefined;
  const server = await startServer(side, {
    logFile: path.join(ctx.logDir, `fanout-${side}-${ctx.run}.log`),
    ...(dataDir ? { dataDir } : {}),
    ...(ctx.cpuProfDir ? { cpuProfDir: ctx.cpuProfDir } : {}),
    ...(ctx.serverRoot ? { serverRoot: ctx.serverRoot } : {}),
  });
  const tracker = new Tracker(() => n - 1);
  const traffic = { frames: 0, bytes: 0 };
  const savedMs: number[] = [];
  let measuredWrites = 0;
  let measureFrom = Infinity;
  const sink = {
    traffic,
    entry: (c: number, text: string) => tracker.received(c, text),
    mark: (c: number, id: string) => tracker.marked(c, id),
    saved: (_c: number, t0: number, ms: number) => {
      if (t0 >= measureFrom) savedMs.push(ms);
    },
  };
  const clients: BenchClient[] = [];
  try {
    // ── setup: everyone joined, connected and aware of everyone ──
    const t0 = performance.now();
    if (side === 'polyphony') {
      const first = await openMeeting(server.url, 'P0');
      const rest = await pool(
        Array.from({ length: n - 1 }, (_, i) => i + 1),
        Math.min(10, p.connectBatch),
        (i) => joinMeeting(server.url, first, `P${i}`),
      );
      const admissions = [first, ...rest];
      const connected = await pool(admissions, p.connectBatch, (a, i) =>
        PolyphonyClient.connect(server.url, a, i, sink),
      );
      clients.push(...connected);
      await until(
        () => connected.every((c) => c.conn.people.size === n && c.conn.voices.size === n),
        'every client to see every participant',
        60_000,
      );
    } else {
      const connected = await pool(
        Array.from({ length: n }, (_, i) => i),
        p.connectBatch,
        (i) => BaselineClient.connect(server.url, 'fanout', i, sink),
      );
      clients.push(...connected);
    }
    const setupMs = performance.now() - t0;
    await sleep(1000);
    const rssAfterConnect = server.memory().rss;

    // ── load: steady writes, warm-up then measured window ──
    const start = performance.now() + 100;
    measureFrom = start + p.warmupS * 1000;
    const end = measureFrom + p.durationS * 1000;
    const timers = new Set<NodeJS.Timeout>();
    let cpu0 = 0;
    let split0: CpuSplit = { mainUser: 0, mainSys: 0, otherUser: 0, otherSys: 0 };
    let bench0 = 0;
    let at0 = 0;
    let hr0 = 0;
    let machine0 = 0;
    let traffic0 = { ...traffic };
    const loop = monitorEventLoopDelay({ resolution: 1 });
    timers.add(
      setTimeout(() => {
        cpu0 = server.cpuMs();
        split0 = server.cpuSplit();
        bench0 = processCpuMs();
        machine0 = machineCpuMs();
        traffic0 = { ...traffic };
        at0 = performance.now();
        hr0 = Number(process.hrtime.bigint() / 1000n);
        loop.enable();
      }, measureFrom - performance.now()),
    );
    clients.forEach((client, i) => {
      let due = start + (i / n) * p.intervalMs;
      let seq = 0;
      const tick = () => {
        if (due >= end) return;
        const measured = due >= measureFrom;
        if (measured) measuredWrites++;
        const { marker, text } = tracker.compose(i, seq++, measured);
        tracker.bindEntry(marker, client.write(text));
        due += p.intervalMs;
        if (due < end) timers.add(setTimeout(tick, Math.max(0, due - performance.now())));
      };
      timers.add(setTimeout(tick, Math.max(0, due - performance.now())));
    });
    await sleep(end - performance.now() + 5);
    const withMarks = side === 'polyphony';
    const drainDeadline = performance.now() + p.drainS * 1000;
    // The measured window ends once every contribution (and its order mark) is everywhere; the
    // writers' "saved" acknowledgements are then awaited outside it (a missing one is reported, and
    // must not stretch the window the CPU time is divided by).
    while (!tracker.allDelivered(withMarks) && performance.now() < drainDeadline) await sleep(5);
    const cpu1 = server.cpuMs();
    const split = cpuSplitSince(split0, server.cpuSplit());
    const machine1 = machineCpuMs();
    const traffic1 = { ...traffic };
    const at1 = performance.now();
    const hr1 = Number(process.hrtime.bigint() / 1000n);
    const bench1 = processCpuMs();
    loop.disable();
    const allSaved = () => side !== 'polyphony' || savedMs.length >= measuredWrites;
    while (!allSaved() && performance.now() < drainDeadline) await sleep(5);
    for (const t of timers) clearTimeout(t);

    // ── convergence: every client holds every contribution, and the same document state ──
    const total = tracker.sent;
    const convergeDeadline = performance.now() + p.drainS * 1000;
    const digestsEqual = () => {
      const d0 = clients[0]?.digest();
      return clients.every((c) => c.digest() === d0);
    };
    while (performance.now() < convergeDeadline && !(clients.every((c) => c.entries() === total) && digestsEqual())) {
      await sleep(50);
    }
    const converged = tracker.allDelivered() && clients.every((c) => c.entries() === total);
    const sameState = digestsEqual();

    const { values, incomplete } = tracker.latencies(true);
    const deliveries = tracker.deliveries(true);
    const serverCpuMs = cpu1 - cpu0;
    const mem = server.memory();
    return {
      side,
      run: ctx.run,
      profiled: Boolean(ctx.cpuProfDir),
      setupMs,
      sent: total,
      measuredSent: tracker.latencies(true).values.length + incomplete,
      latency: summarise(values),
      latencyWithOrder: withMarks ? summarise(tracker.markLatencies(true)) : null,
      incomplete,
      deliveries,
      deliveredPerS: deliveries / p.durationS,
      serverCpuMs,
      serverCpuPct: (100 * serverCpuMs) / (at1 - at0),
      cpuPerDeliveryUs: deliveries ? (serverCpuMs * 1000) / deliveries : NaN,
      cpuSplitPerDeliveryUs: {
        mainUser: (split.mainUser * 1000) / deliveries,
        mainSys: (split.mainSys * 1000) / deliveries,
        otherUser: (split.otherUser * 1000) / deliveries,
        otherSys: (split.otherSys * 1000) / deliveries,
      },
      peakRssMB: mem.peak / MB,
      endRssMB: mem.rss / MB,
      rssAfterConnectMB: rssAfterConnect / MB,
      bytesMB: (traffic1.bytes - traffic0.bytes) / MB,
      saved:
        side === 'polyphony' ? { ...summarise(savedMs), missing: Math.max(0, measuredWrites - savedMs.length) } : null,
      converged,
      sameState,
      strays: tracker.strays,
      benchCpuPct: (100 * (bench1 - bench0)) / (at1 - at0),
      // The histogram counts the 1 ms sampling period itself; subtract it.
      benchLoopDelayP99Ms: Math.max(0, loop.percentile(99) / 1e6 - 1),
      framesPerDelivery: deliveries ? (traffic1.frames - traffic0.frames) / deliveries : NaN,
      bytesPerDelivery: deliveries ? (traffic1.bytes - traffic0.bytes) / deliveries : NaN,
      othersCpuPct: (100 * (machine1 - machine0 - (cpu1 - cpu0) - (bench1 - bench0))) / (at1 - at0),
      loadavgAtStart,
      windowUs: [hr0, hr1],
    };
  } finally {
    for (const c of clients) c.close();
    await sleep(200);
    const code = await server.stop();
    if (code !== 0 && code !== null) ctx.log(`  (${side} server exited with code ${code})`);
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  }
}
