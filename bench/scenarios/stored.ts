/**
 * Scenario — join and edit cost against how many meetings the server holds (Polyphony only): the
 * same small meeting joined and written to with few meetings stored, and with many. The store is
 * filled over HTTP (POST /api/meetings, RATE_LIMITS=off; bounded in count and in time, the count
 * reached is reported), and the server restarted on that DATA_DIR before each measurement, so
 * each case starts from what is on disk.
 *
 * Each case: the meeting's host connects; then `joins` newcomers one after another join over HTTP
 * and connect until synced (each closes after); then the host writes 20 contributions, 50 ms
 * apart, to one listener. Measured: HTTP join, connect → synced, server CPU per join; edit → the
 * listener and server CPU per edit; server start-up time and RSS.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Admission } from '../../shared/protocol.js';
import { PolyphonyClient } from '../lib/clients.js';
import { joinMeeting, openMeeting } from '../lib/http.js';
import { withTimeout } from '../lib/probe.js';
import { startServer, type ServerChild } from '../lib/proc.js';
import { Tracker } from '../lib/tracker.js';
import { median, sleep, until } from '../lib/util.js';

export interface StoredParams {
  few: number;
  many: number;
  fillS: number;
  joins: number;
  fillConcurrency: number;
}

export interface StoredCase {
  /** Meetings in the store when the server started. */
  stored: number;
  /** From spawning the server until it answered HTTP (ms). */
  startMs: number;
  rssAfterStartMB: number;
  joins: Array<{ httpMs: number; syncedMs: number; totalMs: number; serverCpuMs: number }>;
  /** Medians over the joins (server CPU: the mean). */
  median: { httpMs: number; syncedMs: number; totalMs: number; serverCpuMs: number };
  /** edit → the listener (ms) and server CPU per edit (ms), over 20 edits. */
  edit: { p50: number; max: number; serverCpuMsPerEdit: number; delivered: number };
}

export interface StoredResult {
  side: 'polyphony';
  run: string;
  few: StoredCase;
  many: StoredCase;
  /** Filling from `few` to `many`: meetings opened, and how long it took (bounded by fillS). */
  fill: { opened: number; ms: number; perMeetingMs: number; complete: boolean };
}

const EDITS = 20;

async function openMany(
  server: ServerChild,
  count: number,
  concurrency: number,
  deadline: number,
  prefix: string,
): Promise<number> {
  let opened = 0;
  let next = 0;
  const worker = async () => {
    while (next < count && performance.now() < deadline) {
      const i = next++;
      await openMeeting(server.url, `${prefix} ${i}`);
      opened++;
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, count)) }, worker));
  return opened;
}

async function measureCase(
  dataDir: string,
  stored: number,
  meeting: Admission,
  p: StoredParams,
  ctx: { run: string; logDir: string; serverRoot?: string },
  label: string,
): Promise<StoredCase> {
  const s0 = performance.now();
  const server = await startServer('polyphony', {
    logFile: path.join(ctx.logDir, `stored-${label}-${ctx.run}.log`),
    dataDir,
    ...(ctx.serverRoot ? { serverRoot: ctx.serverRoot } : {}),
  });
  const startMs = performance.now() - s0;
  const rssAfterStartMB = server.memory().rss / (1024 * 1024);
  const open: PolyphonyClient[] = [];
  try {
    const tracker = new Tracker(() => 1);
    const sink = { entry: (c: number, text: string) => tracker.received(c, text) };
    const host = await PolyphonyClient.connect(server.url, meeting, 0, sink, 30_000, { probe: 'timing' });
    open.push(host);
    await withTimeout(host.probe!.synced, 30_000, 'the host to sync');
    await sleep(300);

    const joins: StoredCase['joins'] = [];
    let listener: PolyphonyClient | null = null;
    for (let j = 0; j < p.joins; j++) {
      const cpu0 = server.cpuMs();
      const t0 = performance.now();
      const admission = await joinMeeting(server.url, meeting, `${label} joiner ${j}`);
      const httpMs = performance.now() - t0;
      const c = await PolyphonyClient.connect(server.url, admission, j + 1, sink, 30_000, { probe: 'timing' });
      await withTimeout(c.probe!.synced, 30_000, `joiner ${j} to sync`);
      joins.push({
        httpMs,
        syncedMs: c.probe!.connectToSyncedMs!,
        totalMs: performance.now() - t0,
        serverCpuMs: server.cpuMs() - cpu0,
      });
      if (j === p.joins - 1) {
        listener = c;
        open.push(c);
      } else c.close();
      await sleep(200);
    }

    // ── edits: the host writes, the last joiner listens ──
    let edit: StoredCase['edit'] = { p50: NaN, max: NaN, serverCpuMsPerEdit: NaN, delivered: 0 };
    if (listener) {
      const l = listener;
      await until(() => l.conn.voices.size === host.conn.voices.size, 'the listener to see the host', 10_000);
      const cpu0 = server.cpuMs();
      for (let e = 0; e < EDITS; e++) {
        const { marker, text } = tracker.compose(0, e, true);
        tracker.bindEntry(marker, host.write(text));
        await sleep(50);
      }
      const deadline = performance.now() + 10_000;
      while (!tracker.allDelivered() && performance.now() < deadline) await sleep(5);
      const cpuMs = server.cpuMs() - cpu0;
      const { values } = tracker.latencies(true);
      edit = {
        p50: median(values),
        max: values.length ? Math.max(...values) : NaN,
        serverCpuMsPerEdit: cpuMs / EDITS,
        delivered: values.length,
      };
    }
    const med = (f: (x: StoredCase['joins'][number]) => number) => median(joins.map(f));
    return {
      stored,
      startMs,
      rssAfterStartMB,
      joins,
      median: {
        httpMs: med((x) => x.httpMs),
        syncedMs: med((x) => x.syncedMs),
        totalMs: med((x) => x.totalMs),
        // The mean, not the median: /proc counts CPU in 10 ms ticks, a sum over the joins resolves finer.
        serverCpuMs: joins.reduce((a, x) => a + x.serverCpuMs, 0) / Math.max(1, joins.length),
      },
      edit,
    };
  } finally {
    for (const c of open) c.close();
    await sleep(200);
    await server.stop();
  }
}

export async function storedRun(
  p: StoredParams,
  ctx: { run: string; logDir: string; serverRoot?: string; log: (s: string) => void },
): Promise<StoredResult> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'polyphony-bench-stored-'));
  try {
    // ── the few: two probe meetings (one per case, each host + 2 others) and fillers up to `few` ──
    const setup = await startServer('polyphony', {
      logFile: path.join(ctx.logDir, `stored-setup-${ctx.run}.log`),
      dataDir,
      ...(ctx.serverRoot ? { serverRoot: ctx.serverRoot } : {}),
    });
    let meetings: Admission[];
    try {
      meetings = [];
      for (const name of ['few', 'many']) {
        const host = await openMeeting(setup.url, `${name} host`);
        for (let k = 1; k <= 2; k++) await joinMeeting(setup.url, host, `${name} member ${k}`);
        meetings.push(host);
      }
      await openMany(setup, Math.max(0, p.few - 2), p.fillConcurrency, performance.now() + 60_000, 'few');
    } finally {
      await setup.stop();
    }
    const few = await measureCase(dataDir, p.few, meetings[0]!, p, ctx, 'few');
    ctx.log(
      `    ${p.few} stored: join ${few.median.totalMs.toFixed(0)} ms (HTTP ${few.median.httpMs.toFixed(0)}, ` +
        `synced ${few.median.syncedMs.toFixed(0)}), server CPU ${few.median.serverCpuMs.toFixed(0)} ms per join`,
    );

    // ── fill up to `many`, bounded in time ──
    const filler = await startServer('polyphony', {
      logFile: path.join(ctx.logDir, `stored-fill-${ctx.run}.log`),
      dataDir,
      ...(ctx.serverRoot ? { serverRoot: ctx.serverRoot } : {}),
    });
    const f0 = performance.now();
    let opened: number;
    try {
      opened = await openMany(filler, p.many - p.few, p.fillConcurrency, f0 + p.fillS * 1000, 'filler');
    } finally {
      await filler.stop();
    }
    const fillMs = performance.now() - f0;
    const stored = p.few + opened;
    ctx.log(
      `    filled to ${stored} meetings in ${(fillMs / 1000).toFixed(1)} s` +
        (stored < p.many ? ` (stopped at the ${p.fillS} s bound, short of ${p.many})` : ''),
    );
    const many = await measureCase(dataDir, stored, meetings[1]!, p, ctx, 'many');
    ctx.log(
      `    ${stored} stored: join ${many.median.totalMs.toFixed(0)} ms (HTTP ${many.median.httpMs.toFixed(0)}, ` +
        `synced ${many.median.syncedMs.toFixed(0)}), server CPU ${many.median.serverCpuMs.toFixed(0)} ms per join`,
    );
    return {
      side: 'polyphony',
      run: ctx.run,
      few,
      many,
      fill: { opened, ms: fillMs, perMeetingMs: opened ? fillMs / opened : NaN, complete: stored >= p.many },
    };
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}
