/**
 * Several real instances sharing one PostgreSQL database and one Redis server (in this process,
 * each a full `createApp` on its own port), for tests that put a writer and a reader on
 * different instances. The database is a fresh one; the Redis streams of each cluster have a
 * key of their own (a Redis database number), so clusters of parallel test files never meet.
 */
import { inject } from 'vitest';
import { startServer, type TestServer } from '../helpers.js';
import type { Config } from '../../server/config.js';
import { freshDatabase } from './pg.js';

let next = 1 + Math.floor(Math.random() * 15);

/** The run's Redis server, as a URL naming a database of its own (1–15). */
export function testRedisUrl(): string {
  const base = inject('redisUrl');
  if (!base) throw new Error('these tests need redis-server (apt-get install redis-server); .ci/run installs it');
  const db = next;
  next = (next % 15) + 1;
  return `${base}/${db}`;
}

export interface TestCluster {
  databaseUrl: string;
  redisUrl: string;
  servers: TestServer[];
}

export async function startCluster(n: number, config: Partial<Config> = {}): Promise<TestCluster> {
  const databaseUrl = await freshDatabase();
  const redisUrl = testRedisUrl();
  const servers: TestServer[] = [];
  for (let i = 0; i < n; i++) {
    servers.push(
      await startServer({
        config: { databaseUrl, redisUrl, leaseMs: 3000, instance: `test-${String.fromCharCode(97 + i)}`, ...config },
      }),
    );
  }
  return { databaseUrl, redisUrl, servers };
}
