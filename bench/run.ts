/**
 * `npm run bench`: Polyphony against a plain y-websocket server, same machine, same load.
 * Servers run as child processes; the load clients run here. Results go to bench/results/
 * as JSON, and a summary is printed. A benchmark, not a test: nothing here asserts on timing.
 * See bench/README.md for what each scenario measures, and `npm run bench -- --help`.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseOptions, type BenchOptions } from './lib/args.js';
import { summariseDir, type ProfileSummary } from './lib/profile.js';
import { ROOT, type CpuSplit, type Side } from './lib/proc.js';
import { median, round, table } from './lib/util.js';
import { printProfile } from './profile-summary.js';
import { fanoutRun, type FanoutParams, type FanoutResult } from './scenarios/fanout.js';
import { idleRun, type IdleResult } from './scenarios/idle.js';
import { joinRun, type JoinResult } from './scenarios/join.js';
import { pageRun, type PageResult } from './scenarios/page.js';
import { replayRun, type ReplayResult } from './scenarios/replay.js';
import { storedRun, type StoredResult } from './scenarios/stored.js';
import { buildGoals, buildSummary, summaryMarkdown, type Goal, type SummaryRow } from './lib/summary.js';

const opts: BenchOptions = parseOptions(process.argv.slice(2));
const n = opts.n;
// Every y-websocket provider adds a process 'exit' listener; thousands of them are expected here.
process.setMaxListeners(0);

const stamp = new Date().toISOString().replace(/[:.]/g, '-').replace(/Z$/, '');
const outDir = path.resolve(ROOT, opts.out);
const logDir = path.join(outDir, 'logs', stamp);
const serverRoot = opts.serverRoot ? path.resolve(opts.serverRoot) : ROOT;
await mkdir(logDir, { recursive: true });
const log = (s: string) => process.stdout.write(`${s}\n`);

function git(args: string[]): string | null {
  try {
    return execFileSync('git', ['-C', serverRoot, ...args], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return null;
  }
}

interface FanoutMedians {
  runs: number;
  p50: number;
  p95: number;
  p99: number;
  p95WithOrder: number | null;
  deliveredPerS: number;
  serverCpuPct: number;
  cpuPerDeliveryUs: number;
  cpuSplitPerDeliveryUs: CpuSplit;
  peakRssMB: number;
  rssAfterConnectMB: number;
  bytesMB: number;
  savedP50: number | null;
  savedP99: number | null;
  framesPerDelivery: number;
  bytesPerDelivery: number;
  converged: boolean;
}

const results: {
  startedAt: string;
  finishedAt?: string;
  options: BenchOptions;
  environment: Record<string, unknown>;
  fanout?: {
    params: FanoutParams;
    runs: FanoutResult[];
    medians: Partial<Record<Side, FanoutMedians>>;
    profiled: FanoutResult[];
  };
  profiles?: Partial<Record<Side, ProfileSummary | null>>;
  joinProfile?: ProfileSummary | null;
  /** CPU profiles of each side while the 2nd…Kth people of every idle meeting connect. */
  idleProfiles?: Partial<Record<Side, ProfileSummary | null>>;
  idle?: IdleResult[];
  join?: JoinResult[];
  replay?: ReplayResult;
  page?: PageResult;
  stored?: StoredResult;
  /** The issue's table: one row per metric, plain and Polyphony side by side (medians over runs). */
  summary?: SummaryRow[];
  goals?: Goal[];
  errors: Array<{ scenario: string; side?: Side; message: string }>;
} = {
  startedAt: new Date().toISOString(),
  options: opts,
  environment: {
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGB: round(os.totalmem() / 2 ** 30, 1),
    loadavgAtStart: os.loadavg().map((x) => round(x, 2)),
    serverRoot,
    serverCommit: git(['rev-parse', '--short', 'HEAD']),
    serverUncommittedFiles:
      git(['status', '--porcelain', '--', 'server', 'shared'])?.split('\n').filter(Boolean).length ?? null,
  },
  errors: [],
};

const jsonFile = path.join(outDir, `bench-${stamp}.json`);
async function save(): Promise<void> {
  const text = `${JSON.stringify(results, null, 2)}\n`;
  await writeFile(jsonFile, text);
  await writeFile(path.join(outDir, 'latest.json'), text);
}

function fail(scenario: string, side: Side | undefined, e: unknown): void {
  const message = e instanceof Error ? (e.stack ?? e.message) : String(e);
  results.errors.push({ scenario, ...(side ? { side } : {}), message });
  log(`  ✗ ${scenario}${side ? ` (${side})` : ''} failed: ${e instanceof Error ? e.message : String(e)}`);
}

const MB = 1024 * 1024;
const f = (x: number | null | undefined, d = 1) =>
  x === null || x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(d);

const ctxBase = { logDir, log, ...(opts.serverRoot ? { serverRoot } : {}) };
log(
  `Polyphony bench — ${results.environment.cpus} CPU(s), Node ${process.version}, server from ${serverRoot} @ ${String(results.environment.serverCommit)}`,
);
log(`results: ${path.relative(ROOT, jsonFile)}; server logs: ${path.relative(ROOT, logDir)}/`);

// ── 1. fan-out ─────────────────────────────────────────────────────────────────────────
if (opts.scenarios.includes('fanout')) {
  const params: FanoutParams = {
    participants: n.participants,
    editsPerS: n['edits-per-s'],
    intervalMs: (n.participants * 1000) / n['edits-per-s'],
    durationS: n['duration-s'],
    warmupS: n['warmup-s'],
    drainS: n['drain-s'],
    connectBatch: n['connect-batch'],
  };
  results.fanout = { params, runs: [], medians: {}, profiled: [] };
  log(
    `\n[fan-out] ${params.participants} participants, ${params.editsPerS} edits/s in all (one each every ${params.intervalMs.toFixed(0)} ms), ${params.warmupS} s warm-up + ${params.durationS} s measured, ${n.repeats} run(s) per side`,
  );
  for (let r = 1; r <= n.repeats; r++) {
    // Alternate which side goes first, so drift in the machine's state does not favour one side.
    const order = r % 2 === 1 ? opts.sides : [...opts.sides].reverse();
    for (const side of order) {
      try {
        const res = await fanoutRun(side, params, { ...ctxBase, run: String(r) });
        results.fanout.runs.push(res);
        log(
          `  run ${r} ${side.padEnd(9)} p50 ${res.latency.p50.toFixed(1)} ms  p95 ${res.latency.p95.toFixed(1)}  p99 ${res.latency.p99.toFixed(1)}  ` +
            `${res.deliveredPerS.toFixed(0)} deliveries/s  server CPU ${res.serverCpuPct.toFixed(1)}%  ${res.cpuPerDeliveryUs.toFixed(1)} µs/delivery  ` +
            `peak RSS ${res.peakRssMB.toFixed(0)} MB  converged ${res.converged && res.sameState ? 'yes' : 'NO'}  ` +
            (res.saved?.missing ? `"saved" NOT received for ${res.saved.missing} write(s)  ` : '') +
            `(others on the machine: ${res.othersCpuPct.toFixed(0)}% CPU)`,
        );
      } catch (e) {
        fail('fanout', side, e);
      }
      await save();
    }
  }
  for (const side of opts.sides) {
    const runs = results.fanout.runs.filter((x) => x.side === side);
    if (runs.length === 0) continue;
    const withOrder = runs.map((x) => x.latencyWithOrder?.p95).filter((x): x is number => x !== undefined);
    results.fanout.medians[side] = {
      runs: runs.length,
      p50: median(runs.map((x) => x.latency.p50)),
      p95: median(runs.map((x) => x.latency.p95)),
      p99: median(runs.map((x) => x.latency.p99)),
      p95WithOrder: withOrder.length ? median(withOrder) : null,
      deliveredPerS: median(runs.map((x) => x.deliveredPerS)),
      serverCpuPct: median(runs.map((x) => x.serverCpuPct)),
      cpuPerDeliveryUs: median(runs.map((x) => x.cpuPerDeliveryUs)),
      cpuSplitPerDeliveryUs: {
        mainUser: median(runs.map((x) => x.cpuSplitPerDeliveryUs.mainUser)),
        mainSys: median(runs.map((x) => x.cpuSplitPerDeliveryUs.mainSys)),
        otherUser: median(runs.map((x) => x.cpuSplitPerDeliveryUs.otherUser)),
        otherSys: median(runs.map((x) => x.cpuSplitPerDeliveryUs.otherSys)),
      },
      peakRssMB: median(runs.map((x) => x.peakRssMB)),
      rssAfterConnectMB: median(runs.map((x) => x.rssAfterConnectMB)),
      bytesMB: median(runs.map((x) => x.bytesMB)),
      savedP50: runs.every((x) => x.saved) ? median(runs.map((x) => x.saved!.p50)) : null,
      savedP99: runs.every((x) => x.saved) ? median(runs.map((x) => x.saved!.p99)) : null,
      framesPerDelivery: median(runs.map((x) => x.framesPerDelivery)),
      bytesPerDelivery: median(runs.map((x) => x.bytesPerDelivery)),
      converged: runs.every((x) => x.converged && x.sameState),
    };
  }
  if (opts.profile) {
    results.profiles = {};
    for (const side of opts.sides) {
      const dir = path.join(outDir, 'profiles', stamp, side);
      await mkdir(dir, { recursive: true });
      log(`  profiling ${side} (node --cpu-prof; not counted in the medians)…`);
      try {
        const res = await fanoutRun(side, params, { ...ctxBase, run: 'profile', cpuProfDir: dir });
        results.fanout.profiled.push(res);
        results.profiles[side] = await summariseDir(dir, side === 'polyphony' ? serverRoot : ROOT, 25, res.windowUs);
      } catch (e) {
        fail('profile', side, e);
      }
      await save();
    }
  }
}

// ── 2. many idle meetings ──────────────────────────────────────────────────────────────
if (opts.scenarios.includes('idle')) {
  results.idle = [];
  const idleParams = {
    meetings: n.meetings,
    perMeeting: n['per-meeting'],
    connectBatch: n['connect-batch'],
    tricklePerS: n['trickle-per-s'],
    trickleS: n['trickle-s'],
    drainS: n['drain-s'],
  };
  log(
    `\n[idle] ${n.meetings} meetings × ${n['per-meeting']} participants, then ${n['trickle-per-s']} edits/s for ${n['trickle-s']} s`,
  );
  for (let r = 1; r <= n.repeats; r++) {
    const order = r % 2 === 1 ? opts.sides : [...opts.sides].reverse();
    for (const side of order) {
      log(`  run ${r} ${side}:`);
      try {
        const res = await idleRun(side, idleParams, { ...ctxBase, run: String(r) });
        results.idle.push(res);
        log(
          `    ${res.perConnectionKB.toFixed(1)} KB per connection, ${res.perMeetingKB.toFixed(1)} KB per meeting; ` +
            `connect → synced p50 ${res.synced.p50.toFixed(0)} ms p95 ${res.synced.p95.toFixed(0)} ms ` +
            `(first of each meeting p50 ${res.syncedFirst.p50.toFixed(0)}, others ${res.syncedRest.p50.toFixed(0)}); ` +
            `server CPU to connect ${(res.connectCpuMs / 1000).toFixed(2)} s; ` +
            `trickle p95 ${res.trickle.latency.p95.toFixed(1)} ms; converged ${res.converged ? 'yes' : 'NO'}`,
        );
      } catch (e) {
        fail('idle', side, e);
      }
      await save();
    }
  }
  if (opts.profile) {
    results.idleProfiles = {};
    for (const side of opts.sides) {
      const dir = path.join(outDir, 'profiles', stamp, `idle-${side}`);
      await mkdir(dir, { recursive: true });
      log(`  profiling ${side} while connecting (node --cpu-prof; not counted above)…`);
      try {
        const res = await idleRun(side, idleParams, { ...ctxBase, run: 'profile', cpuProfDir: dir });
        results.idleProfiles[side] = await summariseDir(
          dir,
          side === 'polyphony' ? serverRoot : ROOT,
          25,
          res.secondWaveUs,
        );
      } catch (e) {
        fail('idle profile', side, e);
      }
      await save();
    }
  }
}

// ── 3. joining a large meeting ─────────────────────────────────────────────────────────
if (opts.scenarios.includes('join')) {
  results.join = [];
  const also = n['contributions-also'];
  const sizes = [n.contributions, ...(also > 0 && also !== n.contributions ? [also] : [])];
  for (const size of sizes) {
    log(
      `\n[join] a meeting of ${size} contributions by ${n.writers} participants; ${n.joiners} new joiner(s) one after another`,
    );
    for (let r = 1; r <= n.repeats; r++) {
      const order = r % 2 === 1 ? opts.sides : [...opts.sides].reverse();
      for (const side of order) {
        log(`  run ${r} ${side}:`);
        try {
          const res = await joinRun(
            side,
            {
              contributions: size,
              writers: n.writers,
              bulkBatch: n['bulk-batch'],
              joiners: n.joiners,
              connectBatch: n['connect-batch'],
            },
            { ...ctxBase, run: String(r) },
          );
          results.join.push(res);
          const m = res.median;
          log(
            `    join + load ${m.totalMs.toFixed(0)} ms (median), server CPU ${m.serverCpuMs.toFixed(0)} ms; ` +
              `connect → synced ${f(m.syncedMs, 0)} ms, server's part ${f(m.serverPartMs, 0)} ms, ` +
              `downloaded ${f((m.downloadBytes ?? NaN) / MB, 2)} MB` +
              (m.meetingDocBytes != null ? ` (meeting doc ${f(m.meetingDocBytes / MB, 2)} MB)` : ''),
          );
        } catch (e) {
          fail('join', side, e);
        }
        await save();
      }
    }
  }
  if (opts.profile && opts.sides.includes('polyphony')) {
    const dir = path.join(outDir, 'profiles', stamp, 'join-polyphony');
    await mkdir(dir, { recursive: true });
    log('  profiling polyphony during the joins (node --cpu-prof; not counted above)…');
    try {
      const res = await joinRun(
        'polyphony',
        {
          contributions: n.contributions,
          writers: n.writers,
          bulkBatch: n['bulk-batch'],
          joiners: n.joiners,
          connectBatch: n['connect-batch'],
        },
        { ...ctxBase, run: 'profile', cpuProfDir: dir },
      );
      results.joinProfile = await summariseDir(dir, serverRoot, 25, res.windowUs);
    } catch (e) {
      fail('join profile', 'polyphony', e);
    }
    await save();
  }
}

// ── 4. join cost against meetings stored (Polyphony only) ─────────────────────────────
if (opts.scenarios.includes('stored') && opts.sides.includes('polyphony')) {
  log(
    `\n[stored] joins and edits with ${n['stored-few']} vs ${n['stored-meetings']} meetings stored (filling bounded by ${n['stored-fill-s']} s)`,
  );
  try {
    results.stored = await storedRun(
      {
        few: n['stored-few'],
        many: n['stored-meetings'],
        fillS: n['stored-fill-s'],
        joins: n['stored-joins'],
        fillConcurrency: Math.min(16, n['connect-batch']),
      },
      { ...ctxBase, run: '1' },
    );
  } catch (e) {
    fail('stored', 'polyphony', e);
  }
  await save();
}

// ── 5. loading the replay of a long meeting (Polyphony only) ──────────────────────────
if (opts.scenarios.includes('replay') && opts.sides.includes('polyphony')) {
  log(
    `\n[replay] a meeting of ${n['replay-contributions']} contributions by ${n['replay-people']} people, opened afresh ${n['replay-openings']} times`,
  );
  try {
    results.replay = await replayRun(
      { contributions: n['replay-contributions'], people: n['replay-people'], openings: n['replay-openings'] },
      ctxBase,
    );
    log(`    opened and ready to replay in ${results.replay.median.totalMs.toFixed(0)} ms (median)`);
  } catch (e) {
    fail('replay', 'polyphony', e);
  }
  await save();
}

// ── 6. what a phone downloads to open a room (Polyphony only) ─────────────────────────
if (opts.scenarios.includes('page') && opts.sides.includes('polyphony')) {
  log('\n[page] the room page opened in Chromium from a personal link, in every language, nothing cached');
  try {
    results.page = await pageRun(ctxBase);
    for (const w of results.page.languages)
      log(
        `    ${w.locale.padEnd(6)} ${(w.wireBytes / 1024).toFixed(1)} KB of JavaScript on the wire (${(w.bytes / 1024).toFixed(0)} KB unpacked)`,
      );
  } catch (e) {
    fail('page', 'polyphony', e);
  }
  await save();
}

results.finishedAt = new Date().toISOString();
results.summary = buildSummary(results);
results.goals = buildGoals(results.summary);
if (results.page) {
  const worst = Math.max(...results.page.languages.map((w) => w.wireBytes));
  results.goals.push({
    goal: `bundle: the room page's JavaScript under ${results.page.budgetBytes / 1024} KB compressed, in every language`,
    figure: `${(worst / 1024).toFixed(1)} KB at most`,
    met: worst < results.page.budgetBytes,
  });
}
await save();

// ── summary ────────────────────────────────────────────────────────────────────────────
const ratio = (a: number | null | undefined, b: number | null | undefined) =>
  a === null || a === undefined || b === null || b === undefined || !b ? '—' : `${(a / b).toFixed(2)}×`;
const out: string[] = ['', '═'.repeat(100), 'SUMMARY', '═'.repeat(100)];

if (results.fanout) {
  const { params, medians } = results.fanout;
  const P = medians.polyphony;
  const B = medians.baseline;
  out.push(
    '',
    `Fan-out: ${params.participants} participants in one meeting, each writing every ${params.intervalMs.toFixed(0)} ms (${params.editsPerS} edits/s); ` +
      `${params.durationS} s measured after ${params.warmupS} s warm-up; median of ${P?.runs ?? B?.runs ?? 0} run(s) per side`,
    '',
    table(
      ['metric', 'polyphony', 'baseline (y-websocket)', 'polyphony ÷ baseline'],
      [
        ['edit-to-everyone p50 (ms)', f(P?.p50), f(B?.p50), ratio(P?.p50, B?.p50)],
        ['edit-to-everyone p95 (ms)', f(P?.p95), f(B?.p95), ratio(P?.p95, B?.p95)],
        ['edit-to-everyone p99 (ms)', f(P?.p99), f(B?.p99), ratio(P?.p99, B?.p99)],
        ['  p95 incl. order mark (ms)', f(P?.p95WithOrder), '—', ''],
        [
          'delivered updates / s',
          f(P?.deliveredPerS, 0),
          f(B?.deliveredPerS, 0),
          ratio(P?.deliveredPerS, B?.deliveredPerS),
        ],
        ['server CPU (% of one core)', f(P?.serverCpuPct), f(B?.serverCpuPct), ratio(P?.serverCpuPct, B?.serverCpuPct)],
        [
          'server CPU per delivered update (µs)',
          f(P?.cpuPerDeliveryUs),
          f(B?.cpuPerDeliveryUs),
          ratio(P?.cpuPerDeliveryUs, B?.cpuPerDeliveryUs),
        ],
        ...(
          [
            ['  main thread, user (JavaScript)', 'mainUser'],
            ['  main thread, system (socket I/O)', 'mainSys'],
            ['  other threads, user (GC, compiler)', 'otherUser'],
            ['  other threads, system (file writes, fsync)', 'otherSys'],
          ] as const
        ).map(([label, key]) => [
          label,
          f(P?.cpuSplitPerDeliveryUs[key]),
          f(B?.cpuSplitPerDeliveryUs[key]),
          ratio(P?.cpuSplitPerDeliveryUs[key], B?.cpuSplitPerDeliveryUs[key]),
        ]),
        ['server peak RSS (MB)', f(P?.peakRssMB), f(B?.peakRssMB), ratio(P?.peakRssMB, B?.peakRssMB)],
        [
          'messages received per delivered update',
          f(P?.framesPerDelivery, 2),
          f(B?.framesPerDelivery, 2),
          ratio(P?.framesPerDelivery, B?.framesPerDelivery),
        ],
        [
          'bytes received per delivered update',
          f(P?.bytesPerDelivery, 0),
          f(B?.bytesPerDelivery, 0),
          ratio(P?.bytesPerDelivery, B?.bytesPerDelivery),
        ],
        [
          'all clients converged (every run)',
          P ? (P.converged ? 'yes' : 'NO') : '—',
          B ? (B.converged ? 'yes' : 'NO') : '—',
          '',
        ],
      ],
    ),
    '',
    table(
      [
        'run',
        'side',
        'p50',
        'p95',
        'p99',
        'max',
        'sent',
        'deliv/s',
        'CPU %',
        'µs/deliv',
        'peak MB',
        'conv',
        'bench CPU %',
        'bench lag p99',
        'others CPU %',
      ],
      results.fanout.runs.map((x) => [
        x.run,
        x.side,
        round(x.latency.p50),
        round(x.latency.p95),
        round(x.latency.p99),
        round(x.latency.max),
        x.sent,
        round(x.deliveredPerS),
        round(x.serverCpuPct),
        round(x.cpuPerDeliveryUs),
        round(x.peakRssMB),
        x.converged && x.sameState ? 'yes' : 'NO',
        round(x.benchCpuPct),
        round(x.benchLoopDelayP99Ms),
        round(x.othersCpuPct),
      ]),
    ),
  );
}

if (results.profiles) {
  for (const side of opts.sides) {
    const s = results.profiles[side];
    if (!s) continue;
    out.push('', `CPU profile of the ${side} server during the measured window of one fan-out run:`, printProfile(s));
  }
}

for (const side of opts.sides) {
  const s = results.idleProfiles?.[side];
  if (!s) continue;
  out.push(
    '',
    `CPU profile of the ${side} server while the 2nd…${n['per-meeting']}th people of every idle meeting connect:`,
    printProfile(s),
  );
}

if (results.joinProfile) {
  out.push(
    '',
    'CPU profile of the polyphony server while new joiners load the large meeting:',
    printProfile(results.joinProfile),
  );
}

if (results.idle?.length) {
  out.push(
    '',
    `Mostly idle: ${n.meetings} meetings × ${n['per-meeting']} participants, then ${n['trickle-per-s']} edits/s for ${n['trickle-s']} s (${n.repeats} run(s) per side, rows in run order)`,
    '',
    'Server memory, each reading after a forced full GC: RSS (what the kernel sees) and the live JS heap',
    table(
      [
        'side',
        'conns',
        'RSS idle MB',
        'RSS all MB',
        'RSS KB/conn',
        'RSS KB/meeting',
        'RSS marg. KB/conn',
        'heap idle MB',
        'heap all MB',
        'heap KB/conn',
        'heap KB/meeting',
        'heap marg. KB/conn',
      ],
      results.idle.map((x) => [
        x.side,
        x.connections,
        round(x.rssMB.base),
        round(x.rssMB.afterAll),
        round(x.perConnectionKB),
        round(x.perMeetingKB),
        round(x.marginalPerConnectionKB),
        round(x.heapMB.base),
        round(x.heapMB.afterAll),
        round(x.heapPerConnectionKB),
        round(x.heapPerMeetingKB),
        round(x.heapMarginalPerConnectionKB),
      ]),
    ),
    '',
    table(
      [
        'side',
        'idle CPU %',
        'connect s',
        'trickle p50 ms',
        'trickle p95 ms',
        'trickle p99 ms',
        'trickle CPU %',
        'converged',
        'others CPU %',
      ],
      results.idle.map((x) => [
        x.side,
        round(x.idleCpuPct, 2),
        round(x.connectMs / 1000),
        round(x.trickle.latency.p50),
        round(x.trickle.latency.p95),
        round(x.trickle.latency.p99),
        round(x.trickle.cpuPct),
        x.converged ? 'yes' : 'NO',
        round(x.trickle.othersCpuPct),
      ]),
    ),
  );
  const P = results.idle.find((x) => x.side === 'polyphony');
  if (P?.httpSetupMs) {
    out.push(
      `Polyphony: opening ${P.meetings} meetings and ${P.connections - P.meetings} joins over HTTP took ${(P.httpSetupMs / 1000).toFixed(1)} s ` +
        `(a join: ${f(P.joinMs?.first)} ms in the first tenth, ${f(P.joinMs?.last)} ms in the last); ` +
        `${P.loadedAfterHttp ?? '?'} meetings loaded before anyone connected.`,
      `RSS: idle ${f(P.rssMB.base)} MB → after HTTP ${f(P.rssMB.afterHttp)} MB → first connection of each meeting ${f(P.rssMB.afterFirst)} MB → everyone ${f(P.rssMB.afterAll)} MB.`,
      `Live heap: idle ${f(P.heapMB.base)} MB → after HTTP ${f(P.heapMB.afterHttp)} MB → first connection of each meeting ${f(P.heapMB.afterFirst)} MB → everyone ${f(P.heapMB.afterAll)} MB.`,
    );
  }
}

if (results.join?.length) {
  out.push(
    '',
    `Joining a large meeting: ${n.writers} participants wrote the history; median of ${n.joiners} joiner(s) per run`,
    '',
    table(
      [
        'history',
        'run',
        'side',
        'record KB',
        'build s',
        'join→loaded ms',
        'HTTP ms',
        'connect ms',
        'fold ms',
        'server CPU ms',
        'server share %',
        'client CPU ms',
        'connect → synced ms',
        "server's part ms",
        'download KB',
        'of which meeting doc KB',
        'plain doc KB',
      ],
      results.join.map((x) => [
        x.contributions,
        x.run ?? '',
        x.side,
        round(x.recordKB),
        round(x.buildMs / 1000),
        round(x.median.totalMs),
        x.median.httpMs === null ? '—' : round(x.median.httpMs),
        x.median.connectMs === null ? '—' : round(x.median.connectMs),
        x.median.foldMs === null ? '—' : round(x.median.foldMs),
        round(x.median.serverCpuMs),
        round(x.median.serverSharePct),
        round(x.median.clientCpuMs),
        round(x.median.syncedMs ?? NaN),
        round(x.median.serverPartMs ?? NaN),
        round((x.median.downloadBytes ?? NaN) / 1024),
        x.median.meetingDocBytes == null ? '—' : round(x.median.meetingDocBytes / 1024),
        round(x.plainDocKB ?? NaN),
      ]),
    ),
  );
}

if (results.replay) {
  const r = results.replay;
  out.push(
    '',
    `Loading the replay of a long meeting: ${r.contributions} contributions by ${r.people} people (${r.entries} entries); median of ${r.samples.length} openings`,
    '',
    table(
      ['opened → replay ready ms', 'connect + sync ms', 'fold (full + one step) ms', 'server CPU ms'],
      [[round(r.median.totalMs), round(r.median.syncMs), round(r.median.foldMs), round(r.median.serverCpuMs)]],
    ),
  );
}

if (results.page) {
  out.push(
    '',
    "What a phone downloads to open a room (the room page's scripts, Chromium, nothing cached)",
    '',
    table(
      ['language', 'scripts', 'on the wire KB', 'unpacked KB'],
      results.page.languages.map((w) => [
        w.locale,
        String(w.scripts.length),
        (w.wireBytes / 1024).toFixed(1),
        (w.bytes / 1024).toFixed(1),
      ]),
    ),
  );
}

if (results.stored) {
  const st = results.stored;
  out.push(
    '',
    `Join and edit cost against meetings stored (Polyphony; ${n['stored-joins']} joins and 20 edits per case, server restarted on the DATA_DIR before each)`,
    `  filling: ${st.fill.opened} meetings opened over HTTP in ${(st.fill.ms / 1000).toFixed(1)} s (${f(st.fill.perMeetingMs)} ms each)` +
      (st.fill.complete ? '' : ` — stopped at the time bound, short of ${n['stored-meetings']}`),
    '',
    table(
      [
        'stored',
        'start ms',
        'RSS MB',
        'HTTP join ms',
        'connect → synced ms',
        'join total ms',
        'CPU/join ms',
        'edit p50 ms',
        'CPU/edit ms',
      ],
      [st.few, st.many].map((c) => [
        c.stored,
        round(c.startMs),
        round(c.rssAfterStartMB),
        round(c.median.httpMs),
        round(c.median.syncedMs),
        round(c.median.totalMs),
        round(c.median.serverCpuMs),
        round(c.edit.p50),
        round(c.edit.serverCpuMsPerEdit),
      ]),
    ),
  );
}
if (results.summary?.length) {
  out.push(
    '',
    '═'.repeat(100),
    `THE ISSUE'S TABLE: medians over ${n.repeats} run(s) per side, order rotated (bench/README.md describes each row)`,
    '═'.repeat(100),
    summaryMarkdown(results.summary),
    '',
    "The issue's goals (information, not assertions):",
    ...(results.goals ?? [])
      .filter((g) => g.figure !== '—')
      .map((g) => `  ${g.met === null ? '?      ' : g.met ? 'met    ' : 'NOT met'}  ${g.goal}: ${g.figure}`),
  );
}
if (results.errors.length) {
  out.push(
    '',
    'ERRORS:',
    ...results.errors.map((e) => `  ${e.scenario}${e.side ? ` (${e.side})` : ''}: ${e.message.split('\n')[0]}`),
  );
}
out.push('', `results: ${path.relative(ROOT, jsonFile)} (and latest.json)`);
log(out.join('\n'));
await writeFile(path.join(outDir, `summary-${stamp}.txt`), `${out.join('\n')}\n`);
process.exit(results.errors.length ? 1 : 0);
