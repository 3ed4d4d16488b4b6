/**
 * The real server as a child process (server/main.ts, exactly as `npm start` runs it), for tests
 * that kill it for real. It runs as `node --import tsx server/main.ts` — what `npx tsx` does, minus
 * the wrapper process — so that the signal reaches the server itself: SIGKILL to a `tsx` wrapper
 * would leave the real server running as an orphan.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { onCleanup } from './helpers.js';

const root = path.resolve(import.meta.dirname, '..');

/** A port that was free a moment ago. */
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

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Child {
  url: string;
  port: number;
  dataDir: string;
  proc: ChildProcess;
  exited: Promise<Exit>;
  /** Everything the process wrote on stdout and stderr. */
  output(): string;
  stderr(): string;
  alive(): boolean;
  kill(signal: NodeJS.Signals): Promise<Exit>;
}

/**
 * Spawn `server/main.ts` exactly as `npm start` runs it, as `node --import tsx` (no wrapper
 * process, so that SIGKILL reaches the server itself). With `waitListening: false` it resolves as
 * soon as the process is spawned (for start-up refusal tests, await `exited`).
 */
export async function spawnServer(opts: {
  dataDir: string;
  port?: number;
  env?: Record<string, string>;
  waitListening?: boolean;
  timeoutMs?: number;
}): Promise<Child> {
  const port = opts.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const proc = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: root,
    env: {
      ...process.env,
      NODE_ENV: 'production',
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: opts.dataDir,
      PUBLIC_URL: url,
      CLIENT_DIR: '',
      RATE_LIMITS: 'off',
      ...opts.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stdout?.on('data', (b: Buffer) => (out += b.toString()));
  proc.stderr?.on('data', (b: Buffer) => {
    out += b.toString();
    err += b.toString();
  });
  let done = false;
  const exited = new Promise<Exit>((resolve) => {
    proc.once('exit', (code, signal) => {
      done = true;
      resolve({ code, signal });
    });
  });
  onCleanup(async () => {
    if (!done) {
      proc.kill('SIGKILL');
      await exited;
    }
  });
  const child: Child = {
    url,
    port,
    dataDir: opts.dataDir,
    proc,
    exited,
    output: () => out,
    stderr: () => err,
    alive: () => !done,
    kill: async (signal) => {
      if (!done) proc.kill(signal);
      return exited;
    },
  };
  if (opts.waitListening === false) return child;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`server did not start in time:\n${out}`)),
      opts.timeoutMs ?? 30_000,
    );
    const check = () => {
      if (out.includes('Polyphony is running')) {
        clearTimeout(timer);
        proc.stdout?.off('data', check);
        resolve();
      }
    };
    proc.stdout?.on('data', check);
    check();
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code ?? signal}) before listening:\n${out}`));
    });
  });
  return child;
}

/** The server, started and listening (tests that restart it). */
export type ChildServer = Child;
export const startChild = (opts: { dataDir: string; port?: number; env?: Record<string, string> }): Promise<Child> =>
  spawnServer(opts);
