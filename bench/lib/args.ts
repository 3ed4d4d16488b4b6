/**
 * Benchmark options: CLI flags (`npm run bench -- --participants 20`), each also settable by an
 * environment variable BENCH_<NAME> (e.g. BENCH_PARTICIPANTS=20). Flags win.
 */
import { parseArgs } from 'node:util';
import type { Side } from './proc.js';

export const SCENARIOS = ['fanout', 'idle', 'join', 'stored', 'replay', 'page'] as const;
export type Scenario = (typeof SCENARIOS)[number];

const NUMERIC = {
  participants: [50, 'fan-out: participants in the one meeting'],
  'edits-per-s': [100, 'fan-out: contributions per second in all (each participant writes every participants/rate s)'],
  'duration-s': [30, 'fan-out: measured seconds per run'],
  'warmup-s': [5, 'fan-out: unmeasured seconds of the same load before measuring'],
  'drain-s': [15, 'longest wait for the last deliveries after the writers stop'],
  repeats: [2, 'runs per side of fan-out, idle and join (order rotated; medians are quoted)'],
  meetings: [500, 'idle: meetings'],
  'per-meeting': [4, 'idle: participants per meeting'],
  'connect-batch': [50, 'connections (and HTTP requests) opened at once'],
  'trickle-per-s': [10, 'idle: edits per second over all meetings'],
  'trickle-s': [20, 'idle: seconds of trickle'],
  contributions: [10_000, "join (cold load): contributions in the large meeting (the issue's table: 20000)"],
  'contributions-also': [20_000, "join: a second history size also measured, as in the issue's table (0: none)"],
  writers: [10, 'join: participants who wrote them'],
  'bulk-batch': [100, 'join: entries per Yjs update while building it'],
  joiners: [3, 'join: new joiners measured, one after another'],
  'stored-few': [10, 'stored: meetings stored in the small case'],
  'stored-meetings': [10_000, 'stored: meetings stored in the large case (opened over HTTP beforehand)'],
  'stored-fill-s': [300, 'stored: longest time spent opening them (the count reached is reported)'],
  'stored-joins': [5, 'stored: joins measured in each case, one after another'],
  'replay-contributions': [2000, 'replay: contributions in the long meeting'],
  'replay-people': [12, 'replay: people who wrote them'],
  'replay-openings': [3, 'replay: times the record is opened afresh'],
} as const;

export type NumericOption = keyof typeof NUMERIC;

export interface BenchOptions {
  scenarios: Scenario[];
  sides: Side[];
  profile: boolean;
  out: string;
  /** Run Polyphony's server from this checkout instead of this repository (e.g. a clean snapshot). */
  serverRoot: string | undefined;
  n: Record<NumericOption, number>;
}

const envName = (flag: string) => `BENCH_${flag.toUpperCase().replaceAll('-', '_')}`;

export function usage(): string {
  const lines = [
    'npm run bench -- [flags]      (every flag also as env BENCH_<FLAG>, e.g. BENCH_REPEATS=1)',
    '',
    `  --scenarios LIST      comma-separated, of ${SCENARIOS.join(',')} (default: all)`,
    '  --sides LIST          polyphony,baseline (default: both)',
    '  --profile             also run each side once more under node --cpu-prof during fan-out',
    '                        (and, with idle, while the 2nd…Kth people of every meeting connect)',
    '                        and summarise the top self-time functions (not counted in medians)',
    '  --out DIR             results directory (default bench/results)',
    '  --server-root DIR     run Polyphony from another checkout (e.g. `git archive HEAD` unpacked',
    '                        with node_modules linked), while the load clients stay in this tree',
    '  --quick               small sizes for a smoke run (10 participants, 10 s, 1 repeat, 50 meetings, 1,000 contributions, 200 stored)',
  ];
  for (const [flag, [def, help]] of Object.entries(NUMERIC))
    lines.push(`  --${flag.padEnd(19)} ${help} (default ${def})`);
  return lines.join('\n');
}

export function parseOptions(argv: string[], env: NodeJS.ProcessEnv = process.env): BenchOptions {
  const options: Record<string, { type: 'string' | 'boolean' }> = {
    scenarios: { type: 'string' },
    sides: { type: 'string' },
    profile: { type: 'boolean' },
    quick: { type: 'boolean' },
    out: { type: 'string' },
    'server-root': { type: 'string' },
    help: { type: 'boolean' },
  };
  for (const flag of Object.keys(NUMERIC)) options[flag] = { type: 'string' };
  const { values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false });
  const get = (flag: string): string | boolean | undefined => values[flag] ?? env[envName(flag)];
  if (get('help')) {
    process.stdout.write(`${usage()}\n`);
    process.exit(0);
  }

  const quick = get('quick') === true || get('quick') === '1' || get('quick') === 'true';
  const n = {} as Record<NumericOption, number>;
  const quickSizes: Partial<Record<NumericOption, number>> = {
    participants: 10,
    'duration-s': 10,
    'warmup-s': 2,
    repeats: 1,
    meetings: 50,
    'trickle-s': 5,
    contributions: 1000,
    'contributions-also': 0,
    joiners: 1,
    'stored-meetings': 200,
    'stored-fill-s': 30,
    'stored-joins': 3,
  };
  for (const [flag, [def]] of Object.entries(NUMERIC) as Array<[NumericOption, readonly [number, string]]>) {
    const raw = get(flag);
    const value = raw === undefined ? (quick ? (quickSizes[flag] ?? def) : def) : Number(raw);
    if (!Number.isFinite(value) || value < 0) throw new Error(`--${flag} must be a non-negative number`);
    n[flag] = value;
  }
  if (n['edits-per-s'] <= 0) throw new Error('--edits-per-s must be positive');
  if (n['stored-meetings'] < n['stored-few']) throw new Error('--stored-meetings must be at least --stored-few');
  if (n.participants < 2) throw new Error('--participants must be at least 2');
  if (n['per-meeting'] < 2) throw new Error('--per-meeting must be at least 2');
  if (n.writers < 1 || n.contributions < n.writers) throw new Error('--contributions must be at least --writers');

  const list = <T extends string>(raw: string | boolean | undefined, all: readonly T[], what: string): T[] => {
    if (raw === undefined || raw === true || raw === '') return [...all];
    const items = String(raw)
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    for (const s of items)
      if (!all.includes(s as T)) throw new Error(`unknown ${what} "${s}" (known: ${all.join(', ')})`);
    return items as T[];
  };
  const profile = get('profile');
  return {
    scenarios: list(get('scenarios'), SCENARIOS, 'scenario'),
    sides: list(get('sides'), ['polyphony', 'baseline'] as const, 'side'),
    profile: profile === true || profile === '1' || profile === 'true',
    out: String(get('out') ?? 'bench/results'),
    serverRoot: typeof get('server-root') === 'string' ? String(get('server-root')) : undefined,
    n,
  };
}
