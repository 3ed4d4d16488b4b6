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

/** A port that was free a moment ago (the server binds it right after). */
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

export interface ChildServer {
  url: string;
  port: number;
  dataDir: string;
  proc: ChildProcess;
  /** Resolves when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Everything the process wrote (for failure messages). */
  output(): string;
  kill(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export async function startChild(opts: {
  dataDir: string;
  port?: number;
  env?: Record<string, string>;
}): Promise<ChildServer> {
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
  proc.stdout?.on('data', (b: Buffer) => (out += b.toString()));
  proc.stderr?.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.once('exit', (code, signal) => resolve({ code, signal }));
  });
  let done = false;
  void exited.then(() => (done = true));
  onCleanup(async () => {
    if (!done) {
      proc.kill('SIGKILL');
      await exited;
    }
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in time:\n${out}`)), 20_000);
    const check = () => {
      if (out.includes('Polyphony is running')) {
        clearTimeout(timer);
        proc.stdout?.off('data', check);
        resolve();
      }
    };
    proc.stdout?.on('data', check);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code ?? signal}) before listening:\n${out}`));
    });
  });
  return {
    url,
    port,
    dataDir: opts.dataDir,
    proc,
    exited,
    output: () => out,
    kill: async (signal) => {
      proc.kill(signal);
      return exited;
    },
  };
}
