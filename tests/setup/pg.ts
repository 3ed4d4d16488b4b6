/**
 * PostgreSQL for one test: a schema (or a whole database) of its own in the run's server
 * (tests/setup/services.ts), dropped after the test file.
 */
import pg from 'pg';
import { inject } from 'vitest';
import { randomId } from '../../shared/ids.js';
import { onCleanup } from '../helpers.js';

export function testDatabaseUrl(): string {
  return inject('databaseUrl');
}

const uniqueName = (prefix: string) =>
  `${prefix}_${randomId()
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '')}`;

async function admin<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** A fresh, empty schema name in the test database (dropped after the file's tests). */
export function freshSchema(): { connectionString: string; schema: string } {
  const connectionString = testDatabaseUrl();
  const schema = uniqueName('t');
  onCleanup(() =>
    admin(connectionString, async (c) => void (await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`))),
  );
  return { connectionString, schema };
}

/** A fresh, empty database (for code that takes a plain DATABASE_URL); dropped after the file's tests. */
export async function freshDatabase(): Promise<string> {
  const base = testDatabaseUrl();
  const name = uniqueName('db');
  await admin(base, (c) => c.query(`CREATE DATABASE "${name}"`));
  onCleanup(() => admin(base, async (c) => void (await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`))));
  const url = new URL(base);
  url.pathname = `/${name}`;
  return url.toString();
}
