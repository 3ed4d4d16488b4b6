/**
 * Servers under test, each in its own child process, and what the kernel says about them
 * (/proc/<pid>/stat for CPU time, /proc/<pid>/status for resident memory).
 *
 * The child is `node --import tsx <entry>` started directly (not through npx or the tsx CLI),
 * so the pid we read is the server's own.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { sleep } from './util.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** User + system CPU time of a process (all its threads), in ms. Resolution: one clock tick (10 ms). */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may contain spaces): state is field 3, utime 14, stime 15.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(rest[11]) + Number(rest[12])) * 1000) / CLK_TCK;
}

/** A process's CPU time split by thread and mode, in ms. */
export interface CpuSplit {
  /** The main thread (JavaScript, and the syscalls it makes: socket reads and writes). */
  mainUser: number;
  mainSys: number;
  /** Every other thread: V8's helpers (concurrent GC, compilation) and libuv's pool (file writes, fsync). */
  otherUser: number;
  otherSys: number;
}

/** CPU time of each of a process's threads, summed as main thread / others × user / system. */
export function cpuSplit(pid: number): CpuSplit {
  const out: CpuSplit = { mainUser: 0, mainSys: 0, otherUser: 0, otherSys: 0 };
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread ended meanwhile
    }
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const user = (Number(rest[11]) * 1000) / CLK_TCK;
    const sys = (Number(rest[12]) * 1000) / CLK_TCK;
    if (Number(tid) === pid) {
      out.mainUser += user;
      out.mainSys += sys;
    } else {
      out.otherUser += user;
      out.otherSys += sys;
    }
  }
  return out;
}

export function cpuSplitSince(a: CpuSplit, b: CpuSplit): CpuSplit {
  return {
    mainUser: b.mainUser - a.mainUser,
    mainSys: b.mainSys - a.mainSys,
    otherUser: b.otherUser - a.otherUser,
    otherSys: b.otherSys - a.otherSys,
  };
}

/**
 * CPU time used by the whole machine (all cores, all processes) since boot, in ms: the busy
 * columns of /proc/stat's first line. Subtracting the server's and the bench's own share shows how
 * much else was running (this machine is shared; latency is only as quiet as the machine).
 */
export function machineCpuMs(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
  return (((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) * 1000) / CLK_TCK;
}

/** Current (VmRSS) and peak (VmHWM) resident memory of a process, in bytes. */
export function memory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export type Side = 'polyphony' | 'baseline';

export interface ServerChild {
  side: Side;
  url: string;
  pid: number;
  cpuMs(): number;
  /** The same, by thread (main / others) and mode (user / system). */
  cpuSplit(): CpuSplit;
  memory(): { rss: number; peak: number };
  /**
   * Live JS heap after a full garbage collection, in bytes (needs `inspect`): through the
   * inspector protocol on 127.0.0.1, so the server's code is unchanged. RSS keeps garbage and
   * freed pages; this does not.
   */
  heapAfterGc(): Promise<{ used: number; total: number }>;
  /** SIGTERM (graceful: Polyphony flushes), SIGKILL after 15 s. Resolves with the exit code. */
  stop(): Promise<number | null>;
}

export interface StartOptions {
  /** Where the child's stdout/stderr go. */
  logFile: string;
  /** Polyphony's data directory (a fresh temporary directory). */
  dataDir?: string;
  /** Write a V8 CPU profile of the whole run into this directory (node --cpu-prof). */
  cpuProfDir?: string;
  /** Checkout to run Polyphony from (default: this repository). */
  serverRoot?: string;
  /** Open the inspector on a free 127.0.0.1 port (for `heapAfterGc`). */
  inspect?: boolean;
  /** Polyphony: serve the built page from this directory (default: no page, the API and sockets only). */
  clientDir?: string;
}

export async function startServer(side: Side, opts: StartOptions): Promise<ServerChild> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const entry = side === 'polyphony' ? 'server/main.ts' : 'bench/baseline-server.ts';
  const inspectPort = opts.inspect ? await freePort() : null;
  const args = [
    ...(inspectPort ? [`--inspect=127.0.0.1:${inspectPort}`] : []),
    ...(opts.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${opts.cpuProfDir}`] : []),
    '--import',
    'tsx',
    entry,
  ];
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), HOST: '127.0.0.1' };
  delete env.NODE_OPTIONS;
  if (side === 'polyphony') {
    if (!opts.dataDir) throw new Error('Polyphony needs a data directory');
    Object.assign(env, {
      DATA_DIR: opts.dataDir,
      RATE_LIMITS: 'off',
      PUBLIC_URL: url,
      CLIENT_DIR: opts.clientDir ?? '',
    });
  }
  const out = openSync(opts.logFile, 'a');
  let child: ChildProcess;
  try {
    const cwd = side === 'polyphony' ? (opts.serverRoot ?? ROOT) : ROOT;
    child = spawn(process.execPath, args, { cwd, env, stdio: ['ignore', out, out] });
  } finally {
    closeSync(out);
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start the ${side} server`);
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      exitCode = code;
      resolve(code);
    });
  });

  // Ready when it answers HTTP (bounded: 30 s).
  const probe = side === 'polyphony' ? `${url}/api/health` : `${url}/`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exitCode !== undefined) throw new Error(`${side} server exited early (code ${exitCode}); see ${opts.logFile}`);
    try {
      const res = await fetch(probe);
      await res.arrayBuffer();
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${side} server did not answer within 30 s; see ${opts.logFile}`);
    }
    await sleep(50);
  }

  return {
    side,
    url,
    pid,
    cpuMs: () => cpuMs(pid),
    cpuSplit: () => cpuSplit(pid),
    memory: () => memory(pid),
    heapAfterGc: async () => {
      if (!inspectPort) throw new Error('start the server with inspect: true');
      return heapAfterGc(inspectPort);
    },
    stop: async () => {
      if (exitCode !== undefined) return exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Force a full GC in the inspected process, then read its heap usage (bounded: 30 s). */
async function heapAfterGc(port: number): Promise<{ used: number; total: number }> {
  const list = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as Array<{
    webSocketDebuggerUrl?: string;
  }>;
  const url = list[0]?.webSocketDebuggerUrl;
  if (!url) throw new Error('no inspector target');
  const ws = new WebSocket(url);
  try {
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    let next = 1;
    const call = (method: string) =>
      new Promise<Record<string, unknown>>((resolve, reject) => {
        const id = next++;
        const timer = setTimeout(() => reject(new Error(`inspector: ${method} timed out`)), 30_000);
        const onMessage = (data: WebSocket.RawData) => {
          const msg = JSON.parse(String(data)) as {
            id?: number;
            result?: Record<string, unknown>;
            error?: { message: string };
          };
          if (msg.id !== id) return;
          clearTimeout(timer);
          ws.off('message', onMessage);
          if (msg.error) reject(new Error(`inspector: ${msg.error.message}`));
          else resolve(msg.result ?? {});
        };
        ws.on('message', onMessage);
        ws.send(JSON.stringify({ id, method }));
      });
    await call('HeapProfiler.collectGarbage');
    await call('HeapProfiler.collectGarbage');
    const usage = await call('Runtime.getHeapUsage');
    return { used: Number(usage.usedSize), total: Number(usage.totalSize) };
  } finally {
    ws.close();
  }
}
