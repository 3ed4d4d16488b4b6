import { startServer } from '../bench/lib/proc.js';
import { openMeeting, joinMeeting } from '../bench/lib/http.js';
import { PolyphonyClient } from '../bench/lib/clients.js';
import { until } from '../bench/lib/util.js';
import { summariseDir } from '../bench/lib/profile.js';
import { printProfile } from '../bench/profile-summary.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

const M = 300;
const dataDir = await mkdtemp(path.join(tmpdir(), 'cp-'));
const profDir = '/tmp/connprof';
await rm(profDir, { recursive: true, force: true });
const server = await startServer('polyphony', { logFile: '/tmp/cp.log', dataDir, cpuProfDir: profDir });
const adms = [];
for (let i = 0; i < M; i++) {
  const first = await openMeeting(server.url, 'P0');
  adms.push(first);
  for (let j = 1; j < 4; j++) adms.push(await joinMeeting(server.url, first, `P${j}`));
}
await new Promise((r) => setTimeout(r, 1000));
const t0 = process.hrtime.bigint();
const clients: PolyphonyClient[] = [];
const sink = { entry: () => {} };
for (let i = 0; i < adms.length; i += 50) {
  clients.push(...(await Promise.all(adms.slice(i, i + 50).map((a, k) => PolyphonyClient.connect(server.url, a, i + k, sink)))));
}
await until(() => clients.every((c) => c.conn.synced), 'synced', 60000);
const t1 = process.hrtime.bigint();
console.log('connect ms', Number(t1 - t0) / 1e6);
for (const c of clients) c.close();
await server.stop();
const s = await summariseDir(profDir, process.cwd(), 40, [Number(t0 / 1000n), Number(t1 / 1000n)]);
console.log(printProfile(s!));
process.exit(0);
