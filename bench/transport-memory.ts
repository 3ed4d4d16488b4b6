/**
 * What a bare connection costs each transport (`npm run bench:transport -- [connections]`): a
 * server that does nothing but accept connections — plain `ws`, engine.io (WebSocket only) and
 * Socket.IO (WebSocket only, the MessagePack parser, each socket in two rooms as Polyphony's are) —
 * in its own process, and that many clients from this one. Each server sends every new connection
 * one small binary message, the way a Yjs server greets with its sync step 1. Reports the live JS
 * heap and the RSS each connection adds, each read after a forced full GC, the server's CPU time per
 * connection, and the time from starting to connect to that first message at the client (50
 * connecting at a time). It shows how much of Polyphony's memory, CPU and latency per connection
 * the transport alone takes, before any meeting. A benchmark: it asserts nothing.
 */
import { fork } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { Server as EngineServer, type Socket as EngineSocket } from 'engine.io';
import { Server } from 'socket.io';
import { io, type Socket } from 'socket.io-client';
import WebSocket, { WebSocketServer } from 'ws';
import { parser } from '../shared/wire.js';

const KINDS = ['ws', 'engine.io', 'socket.io'] as const;
type Kind = (typeof KINDS)[number];
type Reading = { heap: number; rss: number; cpu: number };
const HELLO = Buffer.from([0, 0, 1, 0]);

/** The server side (this file run with `serve <kind>`), on an ephemeral loopback port. */
function serve(kind: Kind): void {
  const gc = (globalThis as { gc?: () => void }).gc!;
  const srv = http.createServer();
  if (kind === 'socket.io') {
    const sio = new Server(srv, { transports: ['websocket'], parser, serveClient: false, perMessageDeflate: false });
    sio.on('connection', (s) => {
      void s.join(['m:x', `p:${s.id}`]);
      s.on('y', () => {});
      s.emit('y', 0, HELLO);
    });
  } else if (kind === 'engine.io') {
    const engine = new EngineServer({ transports: ['websocket'], perMessageDeflate: false });
    engine.attach(srv);
    engine.on('connection', (c: EngineSocket) => {
      c.on('message', () => {});
      c.send(HELLO);
    });
  } else {
    new WebSocketServer({ server: srv, perMessageDeflate: false }).on('connection', (w) => {
      w.on('message', () => {});
      w.send(HELLO);
    });
  }
  srv.listen(0, '127.0.0.1', () => process.send!({ port: (srv.address() as { port: number }).port }));
  process.on('message', (m) => {
    if (m === 'exit') process.exit(0);
    gc();
    setTimeout(() => {
      gc();
      const u = process.memoryUsage();
      const c = process.cpuUsage();
      process.send!({ heap: u.heapUsed, rss: u.rss, cpu: (c.user + c.system) / 1000 } satisfies Reading);
    }, 300);
  });
}

/** Connect, and resolve once the server's first message (HELLO) has arrived. */
function open(kind: Kind, port: number, took: number[]): Promise<Socket | WebSocket> {
  const started = performance.now();
  return new Promise<Socket | WebSocket>((resolve, reject) => {
    if (kind === 'socket.io') {
      const s = io(`http://127.0.0.1:${port}`, { transports: ['websocket'], parser, forceNew: true });
      s.once('y', () => resolve(s));
      s.once('connect_error', reject);
    } else {
      const url =
        kind === 'engine.io' ? `ws://127.0.0.1:${port}/engine.io/?EIO=4&transport=websocket` : `ws://127.0.0.1:${port}`;
      const w = new WebSocket(url);
      // engine.io's first message is its open packet; HELLO is the second.
      let seen = 0;
      w.on('message', () => {
        if (++seen === (kind === 'engine.io' ? 2 : 1)) resolve(w);
      });
      w.once('error', reject);
    }
  }).then((c) => {
    took.push(performance.now() - started);
    return c;
  });
}

async function measure(
  kind: Kind,
  n: number,
): Promise<{ heapKB: number; rssKB: number; cpuMs: number; p50: number; p95: number }> {
  const child = fork(fileURLToPath(import.meta.url), ['serve', kind], {
    execArgv: ['--import', 'tsx', '--expose-gc'],
  });
  const next = <T>() => new Promise<T>((r) => child.once('message', (m) => r(m as T)));
  const { port } = await next<{ port: number }>();
  // One connection first, so that the code paths are loaded before the baseline reading.
  const warm = await open(kind, port, []);
  await new Promise((r) => setTimeout(r, 200));
  child.send('read');
  const base = await next<Reading>();
  const conns: Array<Socket | WebSocket> = [warm];
  const took: number[] = [];
  for (let i = 0; i < n; i += 50) {
    conns.push(...(await Promise.all(Array.from({ length: Math.min(50, n - i) }, () => open(kind, port, took)))));
  }
  await new Promise((r) => setTimeout(r, 500));
  child.send('read');
  const after = await next<Reading>();
  for (const c of conns) {
    if (c instanceof WebSocket) c.terminate();
    else c.disconnect();
  }
  child.send('exit');
  took.sort((a, b) => a - b);
  const at = (q: number) => took[Math.min(took.length - 1, Math.floor(q * took.length))]!;
  return {
    heapKB: (after.heap - base.heap) / n / 1024,
    rssKB: (after.rss - base.rss) / n / 1024,
    // The two readings' forced GCs are in both, and cancel out.
    cpuMs: (after.cpu - base.cpu) / n,
    p50: at(0.5),
    p95: at(0.95),
  };
}

if (process.argv[2] === 'serve') {
  serve(process.argv[3] as Kind);
} else {
  const n = Number(process.argv[2] ?? 2000);
  console.log(`${n} connections to a server that only accepts them and sends each one message`);
  console.log('(live heap and RSS after a full GC; server CPU per connection; connect -> first message, 50 at a time)');
  console.log('transport   heap KB/conn  RSS KB/conn  CPU ms/conn  first message p50 / p95 ms');
  for (const kind of KINDS) {
    const r = await measure(kind, n);
    console.log(
      `${kind.padEnd(10)}  ${r.heapKB.toFixed(1).padStart(12)}  ${r.rssKB.toFixed(1).padStart(11)}  ${r.cpuMs.toFixed(3).padStart(11)}  ${r.p50.toFixed(1)} / ${r.p95.toFixed(1)}`,
    );
  }
  process.exit(0);
}
