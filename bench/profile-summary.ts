/**
 * Summarise a .cpuprofile (or the busiest one in a directory):
 *   npx tsx bench/profile-summary.ts bench/results/profiles/<run>/polyphony [top=25] [fromUs toUs]
 */
import { readFile, stat } from 'node:fs/promises';
import { summariseDir, summariseProfile, type CpuProfile, type ProfileSummary } from './lib/profile.js';
import { ROOT } from './lib/proc.js';
import { table } from './lib/util.js';

export function printProfile(s: ProfileSummary): string {
  return [
    `${s.file}`,
    `${s.window ? 'measured window' : 'whole profile'}: ${(s.spanMs / 1000).toFixed(1)} s, busy (non-idle) ${(s.busyMs / 1000).toFixed(2)} s`,
    '',
    'Top functions by self time:',
    table(
      ['self ms', '%', 'function', 'where'],
      s.top.map((r) => [Math.round(r.selfMs), Math.round(r.pct * 10) / 10, r.name, r.where]),
    ),
    '',
    'Self time by area:',
    '',
    table(
      ['self ms', '%', 'area'],
      s.areas.slice(0, 15).map((a) => [Math.round(a.selfMs), Math.round(a.pct * 10) / 10, a.area]),
    ),
    ...(s.inclusive.length
      ? [
          '',
          'Server and shared code by inclusive time (a function and everything it calls):',
          table(
            ['incl. ms', '%', 'function', 'where'],
            s.inclusive.slice(0, 15).map((r) => [Math.round(r.selfMs), Math.round(r.pct * 10) / 10, r.name, r.where]),
          ),
        ]
      : []),
  ].join('\n');
}

const isMain = process.argv[1]?.endsWith('profile-summary.ts');
if (isMain) {
  const target = process.argv[2];
  if (!target) {
    process.stderr.write('usage: npx tsx bench/profile-summary.ts <file.cpuprofile | directory> [top]\n');
    process.exit(2);
  }
  const topN = Number(process.argv[3] ?? 25);
  // Optional window in µs of CLOCK_MONOTONIC, as stored in the results JSON (fanout.profiled[].windowUs).
  const from = process.argv[4];
  const to = process.argv[5];
  const window: [number, number] | null = from && to ? [Number(from), Number(to)] : null;
  const s = (await stat(target)).isDirectory()
    ? await summariseDir(target, ROOT, topN, window)
    : await summariseProfile(JSON.parse(await readFile(target, 'utf8')) as CpuProfile, target, ROOT, topN, window);
  process.stdout.write(s ? `${printProfile(s)}\n` : 'no profile found\n');
}
