import { startServer } from '../bench/lib/proc.js';
import { openMeeting, joinMeeting } from '../bench/lib/http.js';
import { PolyphonyClient } from '../bench/lib/clients.js';
import { until } from '../bench/lib/util.js';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import WS from 'ws';
import msgpack from 'notepack.io';

const N = 50;
const dataDir = await mkdtemp(path.join(tmpdir(), 'fr-'));
const server = await startServer('polyphony', { logFile: '/tmp/fr.log', dataDir });
const first = await openMeeting(server.url, 'P0');
const adm = [first];
for (let i = 1; i < N; i++) adm.push(await joinMeeting(server.url, first, `P${i}`));
let entries = 0;
const sink = { entry: () => { entries++; }, mark: () => {} };
const clients: PolyphonyClient[] = [];
for (let i = 0; i < N; i++) clients.push(await PolyphonyClient.connect(server.url, adm[i]!, i, sink));
await until(() => clients.every((c) => c.conn.people.size === N && c.conn.voices.size === N), 'all', 30000);
await new Promise((r) => setTimeout(r, 1500));
const cats: Record<string, Record<string, { n: number; bytes: number }>> = { all: {} };
let on = false;
for (const c of clients) {
  const ws = (c.conn.socket.io.engine?.transport as unknown as { ws?: WS }).ws!;
  ws.on('message', (data: Buffer) => {
    if (!on) return;
    const role = 'all';
    let key = 'text:' + String(data).slice(0, 8);
    if (Buffer.isBuffer(data)) {
      try {
        const p = msgpack.decode(data) as { data?: unknown[] };
        const d = p.data ?? [];
        key = String(d[0]) + " " + JSON.stringify(d.slice(1), (_k, v) => (v && v.type === 'Buffer' ? `bin${v.data.length}` : v)).slice(0, 80);
      } catch { key = 'undecodable'; }
    }
    const k = key.replace(/\[\d+,/g, "[N,").replace(/bin\d+/g, "bin").replace(/"[A-Za-z0-9_-]{22}"/g, 'ID').slice(0, 60);
    const slot = (cats[role]![k] ??= { n: 0, bytes: 0 });
    slot.n++; slot.bytes += data.length;
    if (slot.n === 1) console.log(role, data.length, key);
  });
}
on = true;
const t0 = performance.now();
let seq = 0;
const timers = clients.map((c, i) => setTimeout(() => { const t = setInterval(() => { c.write(`${i}.${seq++} @${performance.now().toFixed(3)} a short contribution to the record`); }, 500); timers2.push(t); }, i * 10));
const timers2: NodeJS.Timeout[] = [];
await new Promise((r) => setTimeout(r, 10000));
timers2.forEach(clearInterval);
await new Promise((r) => setTimeout(r, 1500));
console.log(JSON.stringify(cats, null, 1));
for (const c of clients) c.close();
server.kill?.();
process.exit(0);
