/**
 * The summary table, row for row as in the issue: metric | plain y-websocket server | Polyphony |
 * Polyphony ÷ plain, from the medians over runs of each side. Every figure is also kept as a
 * number (`values`) in the results JSON.
 */
import type { FanoutParams, FanoutResult } from '../scenarios/fanout.js';
import type { IdleResult } from '../scenarios/idle.js';
import type { JoinResult } from '../scenarios/join.js';
import type { StoredResult } from '../scenarios/stored.js';
import type { Side } from './proc.js';
import { median } from './util.js';

export interface SummaryRow {
  /** Which scenario the row belongs to: fanout, idle, cold (first history size), cold-<size>, stored. */
  group: string;
  scenario: string;
  metric: string;
  plain: string;
  polyphony: string;
  ratio: string;
  values: { plain: number[] | null; polyphony: number[] | null; ratio: number[] | null };
}

export interface SummaryInput {
  fanout?: { params: FanoutParams; runs: FanoutResult[] };
  idle?: IdleResult[];
  join?: JoinResult[];
  stored?: StoredResult;
}

const MB = 1024 * 1024;

/** Figures as the issue writes them: 3 significant-ish digits. */
export function fig(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '—';
  const a = Math.abs(x);
  if (a >= 100) return x.toFixed(0);
  if (a >= 1) return x.toFixed(1);
  return x.toFixed(2);
}

const medOf = <T>(runs: readonly T[], f: (r: T) => number | null | undefined): number => {
  const v = runs.map(f).filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  return v.length ? median(v) : NaN;
};

function row(
  scenario: string,
  metric: string,
  plain: number[] | null,
  polyphony: number[] | null,
  opts: { unit?: string; noRatio?: boolean; polyExtra?: string; ratio?: number[] } = {},
): SummaryRow {
  const unit = opts.unit ? ` ${opts.unit}` : '';
  const show = (v: number[] | null) => (v && v.some(Number.isFinite) ? v.map(fig).join(' / ') + unit : '—');
  let ratio: number[] | null = opts.ratio ?? null;
  if (!ratio && !opts.noRatio && plain && polyphony) ratio = polyphony.map((x, i) => x / plain[i]!);
  const ratioText =
    ratio && ratio.some(Number.isFinite) ? ratio.map((r) => (Number.isFinite(r) ? r.toFixed(2) : '—')).join(' / ') : '';
  return {
    group: '',
    scenario,
    metric,
    plain: show(plain),
    polyphony: show(polyphony) + (opts.polyExtra ? ` ${opts.polyExtra}` : ''),
    ratio: ratioText,
    values: { plain, polyphony, ratio },
  };
}

export function buildSummary(r: SummaryInput): SummaryRow[] {
  const rows: SummaryRow[] = [];
  let group = '';
  const add = (x: SummaryRow) => rows.push({ ...x, group });
  const bySide = <T extends { side: Side }>(xs: readonly T[] | undefined, side: Side): T[] =>
    (xs ?? []).filter((x) => x.side === side);

  if (r.fanout && r.fanout.runs.length) {
    group = 'fanout';
    const { params } = r.fanout;
    const P = bySide(r.fanout.runs, 'polyphony');
    const B = bySide(r.fanout.runs, 'baseline');
    const has = (x: FanoutResult[]) => x.length > 0;
    const v = (x: FanoutResult[], f: (r: FanoutResult) => number | null | undefined) => (has(x) ? [medOf(x, f)] : null);
    const v3 = (x: FanoutResult[], fs: Array<(r: FanoutResult) => number>) =>
      has(x) ? fs.map((f) => medOf(x, f)) : null;
    const sc = `fan-out: 1 meeting, ${params.participants} writers, ${params.editsPerS} edits/s, ${params.durationS} s`;
    const lat = [
      (x: FanoutResult) => x.latency.p50,
      (x: FanoutResult) => x.latency.p95,
      (x: FanoutResult) => x.latency.p99,
    ];
    add(
      row(sc, `edit → all ${params.participants - 1} others p50 / p95 / p99`, v3(B, lat), v3(P, lat), { unit: 'ms' }),
    );
    const nominal = Math.round(params.editsPerS * (params.participants - 1));
    add(
      row(
        '',
        `server CPU, % of one core at ${nominal} deliveries/s`,
        v(B, (x) => x.serverCpuPct),
        v(P, (x) => x.serverCpuPct),
      ),
    );
    add(
      row(
        '',
        'server CPU per delivered update',
        v(B, (x) => x.cpuPerDeliveryUs),
        v(P, (x) => x.cpuPerDeliveryUs),
        {
          unit: 'µs',
        },
      ),
    );
    add(
      row(
        '',
        `bytes server → clients (WebSocket payloads, the measured ${params.durationS} s)`,
        v(B, (x) => x.bytesMB),
        v(P, (x) => x.bytesMB),
        {
          unit: 'MB',
        },
      ),
    );
    add(
      row(
        '',
        'server RSS after connect',
        v(B, (x) => x.rssAfterConnectMB),
        v(P, (x) => x.rssAfterConnectMB),
        { unit: 'MB' },
      ),
    );
    add(
      row(
        '',
        'edit → "saved" at the writer p50 / p99',
        null,
        v3(P, [(x) => x.saved?.p50 ?? NaN, (x) => x.saved?.p99 ?? NaN]),
        {
          unit: 'ms',
          noRatio: true,
        },
      ),
    );
  }

  if (r.idle?.length) {
    group = 'idle';
    const P = bySide(r.idle, 'polyphony');
    const B = bySide(r.idle, 'baseline');
    const v = (x: IdleResult[], fs: Array<(r: IdleResult) => number | null | undefined>) =>
      x.length ? fs.map((f) => medOf(x, f)) : null;
    const any = P[0] ?? B[0]!;
    const sc = `${any.meetings} meetings × ${any.connections / any.meetings} people`;
    add(
      row(sc, 'RSS per connection after connect', v(B, [(x) => x.perConnectionKB]), v(P, [(x) => x.perConnectionKB]), {
        unit: 'KB',
      }),
    );
    // RSS moves by pages the kernel keeps or returns; the live heap after a full GC is the steady figure.
    add(
      row(
        '',
        'live JS heap per connection (after a full GC)',
        v(B, [(x) => x.heapPerConnectionKB]),
        v(P, [(x) => x.heapPerConnectionKB]),
        { unit: 'KB' },
      ),
    );
    const syn = [(x: IdleResult) => x.synced.p50, (x: IdleResult) => x.synced.p95];
    add(row('', 'connect → synced p50 / p95', v(B, syn), v(P, syn), { unit: 'ms' }));
    add(
      row(
        '',
        `server CPU to connect all ${any.connections}`,
        v(B, [(x) => x.connectCpuMs / 1000]),
        v(P, [(x) => x.connectCpuMs / 1000]),
        {
          unit: 's',
        },
      ),
    );
    if (P.length) {
      const joins = any.connections - any.meetings;
      add({
        ...row(
          '',
          `${any.meetings} opens + ${joins} joins over HTTP before that: time, server CPU`,
          null,
          v(P, [(x) => (x.httpSetupMs ?? NaN) / 1000, (x) => (x.httpCpuMs ?? NaN) / 1000]),
          { noRatio: true },
        ),
      });
      const last = rows[rows.length - 1]!;
      const [t, c] = last.values.polyphony!;
      last.polyphony = `${fig(t)} s, ${fig(c)} s of server CPU`;
    }
  }

  const sizes = [...new Set((r.join ?? []).map((x) => x.contributions))];
  for (const C of sizes) {
    group = C === sizes[0] ? 'cold' : `cold-${C}`;
    const runs = (r.join ?? []).filter((x) => x.contributions === C);
    const P = bySide(runs, 'polyphony');
    const B = bySide(runs, 'baseline');
    const v = (x: JoinResult[], f: (r: JoinResult) => number | null | undefined) => (x.length ? [medOf(x, f)] : null);
    const sc = `cold load: a newcomer joins a ${C.toLocaleString('en')}-edit history`;
    add(
      row(
        sc,
        'connect → synced p50',
        v(B, (x) => x.median.syncedMs),
        v(P, (x) => x.median.syncedMs),
        { unit: 'ms' },
      ),
    );
    add(
      row(
        '',
        "server's part (step 1 sent → step 2 arrived)",
        v(B, (x) => x.median.serverPartMs),
        v(P, (x) => x.median.serverPartMs),
        {
          unit: 'ms',
        },
      ),
    );
    const meetingDoc = P.length ? medOf(P, (x) => x.median.meetingDocBytes) / MB : NaN;
    add(
      row(
        '',
        'state a joiner downloads (WebSocket payloads until synced)',
        v(B, (x) => (x.median.downloadBytes ?? NaN) / MB),
        v(P, (x) => (x.median.downloadBytes ?? NaN) / MB),
        { unit: 'MB', ...(Number.isFinite(meetingDoc) ? { polyExtra: `(meeting doc ${fig(meetingDoc)} MB)` } : {}) },
      ),
    );
  }

  if (r.stored) {
    group = 'stored';
    const { few, many } = r.stored;
    const sc = `join cost vs meetings stored: ${few.stored.toLocaleString('en')} vs ${many.stored.toLocaleString('en')}`;
    let first = true;
    const pair = (metric: string, a: number, b: number, unit: string) => {
      const x = row(first ? sc : '', `${metric} (ratio: many ÷ few)`, null, [a, b], {
        unit,
        ratio: [b / a],
      });
      x.polyphony = `${fig(a)} → ${fig(b)} ${unit}`;
      add(x);
      first = false;
    };
    pair('join: HTTP + connect → synced', few.median.totalMs, many.median.totalMs, 'ms');
    pair('server CPU per join', few.median.serverCpuMs, many.median.serverCpuMs, 'ms');
    pair('edit → other p50', few.edit.p50, many.edit.p50, 'ms');
    pair('server CPU per edit', few.edit.serverCpuMsPerEdit, many.edit.serverCpuMsPerEdit, 'ms');
  }
  return rows;
}

/** The rows as a Markdown table (as in the issue). */
export function summaryMarkdown(rows: readonly SummaryRow[]): string {
  const cells = [
    ['scenario', 'metric', 'y-websocket-server (plain)', 'Polyphony', 'Polyphony ÷ plain'],
    ...rows.map((r) => [r.scenario, r.metric, r.plain, r.polyphony, r.ratio]),
  ];
  const widths = cells[0]!.map((_, i) => Math.max(3, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => `| ${c.map((x, i) => x.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(cells[0]!), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...cells.slice(1).map(line)].join(
    '\n',
  );
}

export interface Goal {
  goal: string;
  figure: string;
  /** null: not measured in this run. */
  met: boolean | null;
}

/** The goals against this run's figures (information, not assertions). */
export function buildGoals(rows: readonly SummaryRow[]): Goal[] {
  const find = (key: string) => {
    const [group, metric] = key.split(':') as [string, string];
    const inGroup = rows.filter((r) => r.group === group);
    return inGroup.find((r) => r.metric === metric) ?? inGroup.find((r) => r.metric.startsWith(metric));
  };
  const goals: Goal[] = [];
  const ratioGoal = (goal: string, metric: string, i: number, max: number) => {
    const r = find(metric);
    const x = r?.values.ratio?.[i];
    const plain = r?.values.plain?.[i];
    const poly = r?.values.polyphony?.[i];
    // A delta at or below zero (RSS noise at small sizes) measures nothing.
    const noise = plain !== undefined && poly !== undefined && (plain <= 0 || poly <= 0);
    goals.push({
      goal: `${goal} ≤ ${max}× plain`,
      figure:
        x === undefined || !Number.isFinite(x)
          ? '—'
          : noise
            ? `${x.toFixed(2)}× (not measurable: a figure ≤ 0, too small a run)`
            : `${x.toFixed(2)}×`,
      met: x === undefined || !Number.isFinite(x) || noise ? null : x <= max,
    });
  };
  const absGoal = (goal: string, metric: string, i: number, max: number, unit: string) => {
    const x = find(metric)?.values.polyphony?.[i];
    goals.push({
      goal: `${goal} < ${max} ${unit}`,
      figure: x === undefined || !Number.isFinite(x) ? '—' : `${fig(x)} ${unit}`,
      met: x === undefined || !Number.isFinite(x) ? null : x < max,
    });
  };
  ratioGoal('fan-out: server CPU per delivered update', 'fanout:server CPU per delivered update', 0, 1.0);
  ratioGoal('fan-out: p95', 'fanout:edit → all', 1, 1.25);
  ratioGoal('fan-out: p99', 'fanout:edit → all', 2, 1.5);
  ratioGoal('fan-out: bytes to clients', 'fanout:bytes server → clients', 0, 1.5);
  absGoal('fan-out: edit → "saved" p99', 'fanout:edit → "saved"', 1, 50, 'ms');
  ratioGoal('500 × 4: RSS per connection', 'idle:RSS per connection', 0, 1.0);
  ratioGoal('500 × 4: live heap per connection', 'idle:live JS heap per connection', 0, 1.0);
  ratioGoal('500 × 4: connect → synced p50', 'idle:connect → synced p50 / p95', 0, 1.25);
  ratioGoal('500 × 4: connect → synced p95', 'idle:connect → synced p50 / p95', 1, 1.25);
  ratioGoal('500 × 4: server CPU to connect', 'idle:server CPU to connect', 0, 1.5);
  absGoal('cold load (first history size): connect → synced p50', 'cold:connect → synced p50', 0, 100, 'ms');
  absGoal("cold load (first history size): the server's part", "cold:server's part", 0, 20, 'ms');
  ratioGoal('cold load (first history size): state downloaded', 'cold:state a joiner downloads', 0, 1.5);
  for (const metric of [
    'join: HTTP + connect → synced',
    'server CPU per join',
    'edit → other p50',
    'server CPU per edit',
  ]) {
    const x = find(`stored:${metric}`)?.values.ratio?.[0];
    goals.push({
      goal: `stored: ${metric}, many ÷ few ≤ 1.25 (independent of meetings held)`,
      figure: x === undefined || !Number.isFinite(x) ? '—' : `${x.toFixed(2)}×`,
      met: x === undefined || !Number.isFinite(x) ? null : x <= 1.25,
    });
  }
  return goals;
}
