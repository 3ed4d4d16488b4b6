/**
 * vitest globalSetup: the real engines the tests need, started once per run and stopped after it.
 *
 * - PostgreSQL 15: unless `TEST_DATABASE_URL` is set, a throwaway cluster (`initdb` into a temp
 *   directory, as the `postgres` user when running as root: spawned with its uid and gid, so the
 *   teardown signal reaches the server itself), on a free loopback port, fsync on.
 *   Tests get its URL with `inject('databaseUrl')` and each makes a schema or database of its own
 *   (tests/setup/pg.ts), so test files run in parallel safely.
 * - Redis: if `redis-server` is installed, one on a free loopback port without persistence;
 *   `inject('redisUrl')` (null when there is none).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A PostgreSQL database the tests may create schemas and databases in. */
    databaseUrl: string;
    /** A Redis server of this run, or null when redis-server is not installed. */
    redisUrl: string | null;
  }
}

const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';

/** Whatever happens to this process, the servers it started go with it. */
const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** Resolves when `child` prints a line matching `ready`; rejects if it exits first. */
function untilPrinted(child: ChildProcess, ready: RegExp, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const onData = (chunk: Buffer) => {
      seen = (seen + chunk.toString()).slice(-20_000);
      if (ready.test(seen)) {
        done();
        resolve();
      }
    };
    const onExit = (code: number | null, signal: string | null) => {
      done();
      reject(new Error(`${what} exited (${code ?? signal}) before it was ready:\n${seen}`));
    };
    const done = () => {
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
  });
}

function stop(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

export async function startPostgres(): Promise<Service> {
  const root = await mkdtemp(path.join(tmpdir(), 'polyphony-pg-'));
  // As root, the server runs as the `postgres` user (it refuses root): spawned with that uid and gid
  // directly, so the child is postgres itself and a signal to it reaches the server.
  const asRoot = userInfo().uid === 0;
  let user: { uid: number; gid: number } | Record<string, never> = {};
  if (asRoot) {
    const uid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim());
    const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
    await chown(root, uid, gid);
    user = { uid, gid };
  }
  const data = path.join(root, 'data');
  // initdb's own --no-sync only skips flushing the fresh template files of a throwaway cluster; the
  // server below runs with fsync on, as in production.
  const init = spawnSync(
    path.join(PG_BIN, 'initdb'),
    ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync'],
    { encoding: 'utf8', cwd: root, ...user },
  );
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr || init.stdout || String(init.error)}`);
  const port = await freePort();
  const run = async () => {
    const child = spawn(
      path.join(PG_BIN, 'postgres'),
      [
        '-D',
        data,
        '-p',
        String(port),
        '-k',
        root,
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        'fsync=on',
        '-c',
        'synchronous_commit=on',
        '-c',
        'max_connections=300',
        '-c',
        'shared_buffers=32MB',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], cwd: root, ...user },
    );
    children.add(child);
    await untilPrinted(child, /database system is ready to accept connections/, 'postgres');
    return child;
  };
  let child: ChildProcess | null = await run();
  const admin = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' });
  await admin.connect();
  await admin.query('CREATE DATABASE polyphony_test');
  await admin.end();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/polyphony_test`,
    async down() {
      if (child) await stop(child, 'SIGINT');
      child = null;
    },
    async up() {
      child ??= await run();
    },
    async stop() {
      if (child) await stop(child, 'SIGINT'); // fast shutdown
      child = null;
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** A server of its own that a test can take down and bring back on the same port. */
export interface Service {
  url: string;
  /** Stop it (its data stays). */
  down(): Promise<void>;
  /** Start it again, on the same port. */
  up(): Promise<void>;
  /** Stop it for good. */
  stop(): Promise<void>;
}

export async function startRedis(): Promise<Service | null> {
  const bin = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find((b) => existsSync(b));
  if (!bin) return null;
  const port = await freePort();
  const run = async () => {
    const child = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    await untilPrinted(child, /Ready to accept connections/, 'redis-server');
    return child;
  };
  let child: ChildProcess | null = await run();
  return {
    url: `redis://127.0.0.1:${port}`,
    async down() {
      if (child) await stop(child, 'SIGKILL');
      child = null;
    },
    async up() {
      child ??= await run();
    },
    async stop() {
      if (child) await stop(child, 'SIGTERM');
      child = null;
    },
  };
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const given = process.env.TEST_DATABASE_URL;
  const [pgServer, redis] = await Promise.all([given ? null : startPostgres(), startRedis()]);
  project.provide('databaseUrl', given ?? pgServer!.url);
  project.provide('redisUrl', process.env.TEST_REDIS_URL ?? redis?.url ?? null);
  return async () => {
    await Promise.all([pgServer?.stop(), redis?.stop()]);
  };
}
