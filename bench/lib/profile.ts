/**
 * Summarise a V8 CPU profile (.cpuprofile, from `node --cpu-prof`): self time by function and by
 * area (our server code, shared code, each npm package, Node internals, GC).
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { SourceMap } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { transform } from 'esbuild';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileRow {
  name: string;
  where: string;
  area: string;
  selfMs: number;
  pct: number;
}

export interface ProfileSummary {
  file: string;
  /** Wall time covered by the profile (ms). */
  spanMs: number;
  /** Sampled time not idle (ms). */
  busyMs: number;
  /** The window summarised, as [from, to] in µs of CLOCK_MONOTONIC (null: the whole profile). */
  window: [number, number] | null;
  top: ProfileRow[];
  areas: Array<{ area: string; selfMs: number; pct: number }>;
  /** Our own code (server/, shared/) by inclusive time: where the time under each function goes. */
  inclusive: ProfileRow[];
}

function place(url: string, root: string): { where: string; area: string } {
  if (!url) return { where: '', area: 'native / V8' };
  if (url.startsWith('node:')) return { where: url, area: 'node internals' };
  let file = url.startsWith('file://') ? decodeURIComponent(new URL(url).pathname) : url;
  const nm = file.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = file.slice(nm + '/node_modules/'.length);
    const parts = rest.split('/');
    const pkg = rest.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
    return { where: rest, area: `npm: ${pkg}` };
  }
  if (file.startsWith(root + '/')) file = file.slice(root.length + 1);
  const top = file.split('/')[0] ?? file;
  return { where: file, area: ['server', 'shared', 'client', 'bench'].includes(top) ? `${top}/` : 'other' };
}

/**
 * `window`: only samples taken in [from, to] (µs, CLOCK_MONOTONIC — the clock of V8's profile
 * timestamps and of `process.hrtime`), e.g. the measured part of a run without start-up.
 */
type LineMap = (line: number, column: number) => number | null;

/**
 * tsx compiles each .ts file with esbuild into one long line (minified whitespace), so V8 reports
 * line 1 and a column. Compiling the file again with tsx's options (esbuild, same Node target,
 * minifyWhitespace, keepNames) and reading the source map gives the original line back.
 * Best effort: null when the file cannot be read or compiled.
 */
async function lineMaps(profile: CpuProfile): Promise<Map<string, LineMap>> {
  const maps = new Map<string, LineMap>();
  const urls = new Set(
    profile.nodes.map((n) => n.callFrame.url).filter((u) => u.startsWith('file://') && /\.(c|m)?ts$/.test(u)),
  );
  for (const url of urls) {
    if (url.includes('/node_modules/')) continue;
    try {
      const file = fileURLToPath(url);
      const source = await readFile(file, 'utf8');
      const out = await transform(source, {
        loader: 'ts',
        target: `node${process.versions.node}`,
        sourcemap: true,
        minifyWhitespace: true,
        keepNames: true,
        sourcefile: file,
      });
      const map = new SourceMap(JSON.parse(out.map) as ConstructorParameters<typeof SourceMap>[0]);
      maps.set(url, (line, column) => {
        const e = map.findEntry(line, column) as { originalLine?: number };
        return typeof e.originalLine === 'number' ? e.originalLine + 1 : null;
      });
    } catch {
      // leave this file unmapped
    }
  }
  return maps;
}

export async function summariseProfile(
  profile: CpuProfile,
  file: string,
  root: string,
  topN = 25,
  window: [number, number] | null = null,
): Promise<ProfileSummary> {
  // The server's own checkout (it may be another than this one: --server-root).
  const main = profile.nodes
    .map((n) => n.callFrame.url)
    .find((u) => u.startsWith('file://') && u.endsWith('/server/main.ts'));
  if (main) root = path.dirname(path.dirname(fileURLToPath(main)));
  const maps = await lineMaps(profile);
  const lineOf = (cf: CallFrame): string => {
    const mapped = cf.lineNumber === 0 ? maps.get(cf.url)?.(cf.lineNumber, cf.columnNumber) : null;
    return String(mapped ?? cf.lineNumber + 1);
  };
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const c of node.children ?? []) parent.set(c, node.id);
  const self = new Map<number, number>();
  // Sample i lasts until sample i+1 (the last sample gets no time).
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    if (window && (t < window[0] || t > window[1])) continue;
    const id = profile.samples[i]!;
    const dt = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    self.set(id, (self.get(id) ?? 0) + dt);
  }
  const fns = new Map<string, ProfileRow>();
  const areas = new Map<string, number>();
  let busy = 0;
  for (const [id, ms] of self) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url } = node.callFrame;
    if (functionName === '(idle)') continue;
    busy += ms;
    const name = functionName || '(anonymous)';
    const { where, area } = place(url, root);
    const at = where ? `${where}:${lineOf(node.callFrame)}` : '';
    const key = `${name}@${at}`;
    const row = fns.get(key) ?? {
      name,
      where: at,
      area: name.startsWith('(') && !url ? name : area,
      selfMs: 0,
      pct: 0,
    };
    row.selfMs += ms;
    fns.set(key, row);
    areas.set(row.area, (areas.get(row.area) ?? 0) + ms);
  }
  const top = [...fns.values()].sort((a, b) => b.selfMs - a.selfMs).slice(0, topN);
  for (const r of top) r.pct = (100 * r.selfMs) / busy;

  // Inclusive time of our own functions: each sample counts once for every distinct one on its stack.
  const incl = new Map<string, ProfileRow>();
  for (const [id, ms] of self) {
    const leaf = byId.get(id);
    if (!leaf || leaf.callFrame.functionName === '(idle)') continue;
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const node = byId.get(cur);
      if (!node) break;
      const { functionName, url } = node.callFrame;
      const { where, area } = place(url, root);
      if (area !== 'server/' && area !== 'shared/') continue;
      const at = `${where}:${lineOf(node.callFrame)}`;
      const key = `${functionName}@${at}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const row = incl.get(key) ?? { name: functionName || '(anonymous)', where: at, area, selfMs: 0, pct: 0 };
      row.selfMs += ms;
      incl.set(key, row);
    }
  }
  const inclusive = [...incl.values()].sort((a, b) => b.selfMs - a.selfMs).slice(0, topN);
  for (const r of inclusive) r.pct = (100 * r.selfMs) / busy;

  return {
    file,
    spanMs: window ? (window[1] - window[0]) / 1000 : (profile.endTime - profile.startTime) / 1000,
    busyMs: busy,
    window,
    inclusive,
    top,
    areas: [...areas]
      .map(([area, selfMs]) => ({ area, selfMs, pct: (100 * selfMs) / busy }))
      .sort((a, b) => b.selfMs - a.selfMs),
  };
}

/** The busiest profile in a directory (`--cpu-prof` writes one per thread). */
export async function summariseDir(
  dir: string,
  root: string,
  topN = 25,
  window: [number, number] | null = null,
): Promise<ProfileSummary | null> {
  let best: ProfileSummary | null = null;
  for (const name of await readdir(dir)) {
    if (!name.endsWith('.cpuprofile')) continue;
    const file = path.join(dir, name);
    if ((await stat(file)).size === 0) continue;
    const s = await summariseProfile(JSON.parse(await readFile(file, 'utf8')) as CpuProfile, file, root, topN, window);
    if (!best || s.busyMs > best.busyMs) best = s;
  }
  return best;
}
