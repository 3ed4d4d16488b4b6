/**
 * The PostgreSQL schema, as versioned, forward-only migrations. Never edit a released one: add the
 * next version. `migrate()` runs at start-up under an advisory lock, so two instances starting at
 * once apply each migration exactly once (the second waits, then finds nothing left to do).
 */
import type pg from 'pg';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'records and update log',
    sql: `
      CREATE TABLE networks (
        id               text PRIMARY KEY,
        name             text NOT NULL,
        first_contact_at bigint NOT NULL
      );

      CREATE TABLE meetings (
        id           text PRIMARY KEY,
        network_id   text NOT NULL REFERENCES networks (id),
        previous     text REFERENCES meetings (id) DEFERRABLE INITIALLY DEFERRED,
        opened_at    bigint NOT NULL,
        ended_at     bigint,
        erased       boolean,
        join_hash    text NOT NULL,
        status       text NOT NULL CHECK (status IN ('open', 'ended')),
        locked       boolean NOT NULL,
        facilitators text[] NOT NULL
      );
      CREATE INDEX meetings_by_network ON meetings (network_id, opened_at);

      -- One person keeps one personal-link hash across a network's meetings: a hash is unique within
      -- a meeting, not across the table.
      CREATE TABLE participants (
        id         text PRIMARY KEY,
        meeting_id text NOT NULL REFERENCES meetings (id),
        token_hash text NOT NULL,
        name       text NOT NULL,
        relation   text NOT NULL,
        about_me   boolean NOT NULL,
        joined_at  bigint NOT NULL,
        revoked    boolean NOT NULL,
        removed    boolean,
        added_by   text REFERENCES participants (id) DEFERRABLE INITIALLY DEFERRED,
        erased     boolean,
        UNIQUE (meeting_id, token_hash)
      );
      CREATE INDEX participants_by_token ON participants (token_hash);

      CREATE TABLE sessions (
        hash       text PRIMARY KEY,
        members    text[] NOT NULL,
        created_at bigint NOT NULL
      );

      CREATE TABLE access_log (
        seq            bigserial PRIMARY KEY,
        meeting_id     text NOT NULL REFERENCES meetings (id),
        participant_id text NOT NULL REFERENCES participants (id),
        action         text NOT NULL,
        at             bigint NOT NULL,
        note           text
      );
      CREATE INDEX access_log_by_meeting ON access_log (meeting_id, seq);

      -- Each meeting's Yjs updates: append-only rows, read back in seq order. Compaction deletes the
      -- rows it folded and inserts the snapshot in one transaction; erasure deletes the rows.
      -- No foreign key to meetings: the update log is its own store (as the contract has it).
      CREATE TABLE doc_updates (
        meeting_id text NOT NULL,
        seq        bigserial NOT NULL,
        doc        text NOT NULL,
        data       bytea NOT NULL,
        PRIMARY KEY (meeting_id, seq)
      );
    `,
  },
  {
    version: 2,
    name: 'meeting leases',
    sql: `
      -- Several instances (REDIS_URL): which instance serves each meeting, until when. The token
      -- grows with every change of owner; every write to a meeting's update log checks it in the
      -- same transaction (fencing), so an owner that lost its lease cannot write.
      CREATE TABLE meeting_leases (
        meeting_id text PRIMARY KEY,
        owner      text NOT NULL,
        token      bigint NOT NULL,
        expires_at timestamptz NOT NULL
      );
    `,
  },
  {
    version: 3,
    name: 'short codes',
    sql: `
      -- The short code that can be read aloud (hashed), and until when it admits anyone.
      ALTER TABLE meetings ADD COLUMN code_hash text, ADD COLUMN code_until bigint;
      CREATE UNIQUE INDEX meetings_by_code ON meetings (code_hash) WHERE code_hash IS NOT NULL;
    `,
  },
];

/** A stable advisory-lock key for this schema's migrations. */
const LOCK_SQL = `SELECT pg_advisory_lock(hashtext('polyphony.migrations.' || $1::text))`;
const UNLOCK_SQL = `SELECT pg_advisory_unlock(hashtext('polyphony.migrations.' || $1::text))`;

/**
 * Bring the schema up to date. Each migration runs in its own transaction with its row in
 * schema_migrations; a database newer than this code is refused (forward-only: never downgrade).
 */
export async function migrate(client: pg.ClientBase, schema: string | null): Promise<number[]> {
  const key = schema ?? 'public';
  await client.query(LOCK_SQL, [key]);
  try {
    if (schema) await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
    await client.query(`
      CREATE TABLE IF NOT EXISTS schema_migrations (
        version    integer PRIMARY KEY,
        name       text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
    const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_migrations');
    const done = new Set(rows.map((r) => r.version));
    const known = new Set(MIGRATIONS.map((m) => m.version));
    const unknown = [...done].filter((v) => !known.has(v));
    if (unknown.length) {
      throw new Error(
        `the database has schema migrations this server does not know (${unknown.join(', ')}): it is newer; refusing to run against it`,
      );
    }
    const applied: number[] = [];
    for (const m of MIGRATIONS) {
      if (done.has(m.version)) continue;
      await client.query('BEGIN');
      try {
        await client.query(m.sql);
        await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
        await client.query('COMMIT');
      } catch (e) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw e;
      }
      applied.push(m.version);
    }
    return applied;
  } finally {
    await client.query(UNLOCK_SQL, [key]);
  }
}

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;

export function quoteIdent(name: string): string {
  if (!IDENT.test(name)) throw new Error('invalid schema name');
  return `"${name}"`;
}
