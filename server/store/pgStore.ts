/**
 * The PostgreSQL store (`DATABASE_URL`): the same contract as the embedded store.
 *
 * - Records (networks, meetings, participants, sessions, access log) are plain tables with the
 *   constraints they need (server/store/pgMigrations.ts). `transaction()` is BEGIN, the staged
 *   writes in order, COMMIT; it resolves only after COMMIT returned (synchronous_commit on, so the
 *   commit is flushed to the WAL), and rolls back everything on any failure.
 * - Each meeting's Yjs updates are append-only rows (bytea) in `doc_updates`, read back in `seq`
 *   order. A batch is one INSERT in one COMMIT (the caller groups writes). Compaction deletes
 *   exactly the rows it folded and inserts the snapshot, in one transaction. Erasure deletes the
 *   rows (PostgreSQL reclaims them at the next VACUUM; backups keep them until they expire).
 * - Errors (unreachable database, constraint violations) propagate to the caller, who retries or
 *   reports; nothing here swallows one.
 */
import pg from 'pg';
import { isId } from '../../shared/ids.js';
import { migrate, quoteIdent } from './pgMigrations.js';
import type {
  AccessEntry,
  DocUpdate,
  MeetingPatch,
  MeetingRecord,
  NetworkPatch,
  NetworkRecord,
  ParticipantPatch,
  ParticipantRecord,
  RecordWriter,
  SessionRecord,
  Store,
} from './types.js';
import { FencedError } from './types.js';

/** The lease a meeting's writer holds (several instances): its writes carry it, the database checks it. */
export interface Fence {
  owner: string;
  token: number;
}

export interface PgStoreOptions {
  connectionString: string;
  /** A schema of its own (created if missing); default: the connection's search_path (public). */
  schema?: string | null;
  /** Pool size. */
  max?: number;
  /** Shown in pg_stat_activity (default `polyphony`). */
  applicationName?: string;
}

/** bigint (int8) columns hold milliseconds since the epoch: safe as JS numbers. */
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

type Query = { text: string; values: unknown[]; mustTouch?: string };

interface MeetingRow {
  id: string;
  network_id: string;
  previous: string | null;
  opened_at: number;
  ended_at: number | null;
  erased: boolean | null;
  join_hash: string;
  status: 'open' | 'ended';
  locked: boolean;
  facilitators: string[];
  code_hash: string | null;
  code_until: number | null;
}

interface ParticipantRow {
  id: string;
  meeting_id: string;
  token_hash: string;
  name: string;
  relation: string;
  about_me: boolean;
  joined_at: number;
  revoked: boolean;
  removed: boolean | null;
  added_by: string | null;
  erased: boolean | null;
}

const MEETING_COLS =
  'id, network_id, previous, opened_at, ended_at, erased, join_hash, status, locked, facilitators, code_hash, code_until';
const PARTICIPANT_COLS =
  'id, meeting_id, token_hash, name, relation, about_me, joined_at, revoked, removed, added_by, erased';

function meetingOf(r: MeetingRow): MeetingRecord {
  return {
    id: r.id,
    networkId: r.network_id,
    previous: r.previous,
    openedAt: r.opened_at,
    ...(r.ended_at !== null ? { endedAt: r.ended_at } : {}),
    ...(r.erased !== null ? { erased: r.erased } : {}),
    joinHash: r.join_hash,
    status: r.status,
    locked: r.locked,
    facilitators: r.facilitators,
    ...(r.code_hash !== null ? { codeHash: r.code_hash } : {}),
    ...(r.code_until !== null ? { codeUntil: r.code_until } : {}),
  };
}

function participantOf(r: ParticipantRow): ParticipantRecord {
  return {
    id: r.id,
    meetingId: r.meeting_id,
    tokenHash: r.token_hash,
    name: r.name,
    relation: r.relation,
    aboutMe: r.about_me,
    joinedAt: r.joined_at,
    revoked: r.revoked,
    ...(r.removed !== null ? { removed: r.removed } : {}),
    ...(r.added_by !== null ? { addedBy: r.added_by } : {}),
    ...(r.erased !== null ? { erased: r.erased } : {}),
  };
}

const MEETING_PATCH: Record<keyof MeetingPatch, string> = {
  status: 'status',
  locked: 'locked',
  facilitators: 'facilitators',
  endedAt: 'ended_at',
  erased: 'erased',
};
const NETWORK_PATCH: Record<keyof NetworkPatch, string> = { name: 'name', firstContactAt: 'first_contact_at' };
const PARTICIPANT_PATCH: Record<keyof ParticipantPatch, string> = {
  name: 'name',
  relation: 'relation',
  aboutMe: 'about_me',
  revoked: 'revoked',
  removed: 'removed',
  erased: 'erased',
  tokenHash: 'token_hash',
};

/** `UPDATE table SET …` from a patch: column names from a fixed map, values as parameters. */
function updateQuery(table: string, columns: Record<string, string>, id: string, patch: object, what: string): Query {
  const sets: string[] = [];
  const values: unknown[] = [id];
  for (const [key, value] of Object.entries(patch)) {
    const col = Object.hasOwn(columns, key) ? columns[key] : undefined;
    if (!col) throw new Error(`cannot change ${key} of a ${what}`);
    values.push(value ?? null);
    sets.push(`${col} = $${values.length}`);
  }
  // An empty patch still has to find its record.
  if (sets.length === 0) sets.push('id = id');
  return { text: `UPDATE ${table} SET ${sets.join(', ')} WHERE id = $1`, values, mustTouch: `no such ${what}` };
}

function insertParticipant(p: ParticipantRecord): Query {
  return {
    text: `INSERT INTO participants (${PARTICIPANT_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
    values: [
      p.id,
      p.meetingId,
      p.tokenHash,
      p.name,
      p.relation,
      p.aboutMe,
      p.joinedAt,
      p.revoked,
      p.removed ?? null,
      p.addedBy ?? null,
      p.erased ?? null,
    ],
  };
}

function insertMeeting(m: MeetingRecord): Query {
  return {
    text: `INSERT INTO meetings (${MEETING_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
    values: [
      m.id,
      m.networkId,
      m.previous,
      m.openedAt,
      m.endedAt ?? null,
      m.erased ?? null,
      m.joinHash,
      m.status,
      m.locked,
      [...m.facilitators],
      m.codeHash ?? null,
      m.codeUntil ?? null,
    ],
  };
}

/** The staged writes of one transaction, as queries. */
function stage(write: (tx: RecordWriter) => void): Query[] {
  const qs: Query[] = [];
  write({
    createMeeting(network, meeting, participants) {
      if (network) {
        qs.push({
          text: 'INSERT INTO networks (id, name, first_contact_at) VALUES ($1, $2, $3)',
          values: [network.id, network.name, network.firstContactAt],
        });
      }
      qs.push(insertMeeting(meeting));
      for (const p of participants) qs.push(insertParticipant(p));
    },
    updateMeeting: (id, patch) => qs.push(updateQuery('meetings', MEETING_PATCH, id, patch, 'meeting')),
    updateNetwork: (id, patch) => qs.push(updateQuery('networks', NETWORK_PATCH, id, patch, 'network')),
    addParticipant: (p) => qs.push(insertParticipant(p)),
    updateParticipant: (id, patch) => qs.push(updateQuery('participants', PARTICIPANT_PATCH, id, patch, 'participant')),
    addToSession: (hash, member, at) =>
      qs.push({
        text: `INSERT INTO sessions (hash, members, created_at) VALUES ($1, ARRAY[$2::text], $3)
               ON CONFLICT (hash) DO UPDATE SET members =
                 CASE WHEN $2::text = ANY (sessions.members) THEN sessions.members
                      ELSE array_append(sessions.members, $2::text) END`,
        values: [hash, member, at],
      }),
    removeFromSession: (hash, member) =>
      qs.push({
        text: 'UPDATE sessions SET members = array_remove(members, $2::text) WHERE hash = $1',
        values: [hash, member],
      }),
    logAccess: (e) =>
      qs.push({
        text: 'INSERT INTO access_log (meeting_id, participant_id, action, at, note) VALUES ($1, $2, $3, $4, $5)',
        values: [e.meetingId, e.participantId, e.action, e.at, e.note ?? null],
      }),
  });
  return qs;
}

function checkId(meetingId: string): void {
  if (!isId(meetingId)) throw new Error('invalid meeting id');
}

export class PgStore implements Store {
  readonly #pool: pg.Pool;
  /** Per meeting, the chain of its log operations: appends land in call order. */
  readonly #chains = new Map<string, Promise<void>>();

  #fence: ((meetingId: string) => Fence | undefined) | null = null;

  private constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  /** The pool, for the lease table (server/cluster/), which lives in the same database. */
  get pool(): pg.Pool {
    return this.#pool;
  }

  /**
   * Several instances: every write to a meeting's update log, and every record transaction given
   * `fence`, first checks in its own transaction that the lease `fence(meetingId)` names is still
   * the meeting's (row-locked until COMMIT, so a takeover waits for it). A stale owner's write
   * fails with `FencedError` and nothing is written.
   */
  setFence(fence: (meetingId: string) => Fence | undefined): void {
    this.#fence = fence;
  }

  /** Run `body` after checking the meeting's fence, in one transaction (when there is a fence). */
  async #fenced(meetingId: string, body: (client: pg.ClientBase) => Promise<void>): Promise<void> {
    if (!this.#fence) return body(this.#pool as unknown as pg.ClientBase);
    await this.#inTransaction(async (client) => {
      await this.#checkFence(client, meetingId);
      await body(client);
    });
  }

  /** Inside a transaction: the meeting's lease is still the one this writer holds, and stays so until COMMIT. */
  async #checkFence(client: pg.ClientBase, meetingId: string): Promise<void> {
    if (!this.#fence) return;
    const fence = this.#fence(meetingId);
    const { rows } = await client.query<{ token: number }>(
      'SELECT token FROM meeting_leases WHERE meeting_id = $1 AND owner = $2 FOR SHARE',
      [meetingId, fence?.owner ?? ''],
    );
    if (!fence || rows[0]?.token !== fence.token) throw new FencedError(meetingId);
  }

  /** Connect, run the migrations (under an advisory lock), and return the store. */
  static async open(opts: PgStoreOptions): Promise<PgStore> {
    const schema = opts.schema ?? null;
    if (schema) quoteIdent(schema); // validate before it goes anywhere
    const config: pg.PoolConfig = {
      connectionString: opts.connectionString,
      max: opts.max ?? 10,
      application_name: opts.applicationName ?? 'polyphony',
      types,
      ...(schema ? { options: `-c search_path=${schema}` } : {}),
    };
    const client = new pg.Client(config);
    await client.connect();
    try {
      await migrate(client, schema);
    } finally {
      await client.end();
    }
    const pool = new pg.Pool(config);
    // An idle connection that breaks is dropped by the pool; the next query reports the failure.
    pool.on('error', () => undefined);
    return new PgStore(pool);
  }

  async transaction(write: (tx: RecordWriter) => void, opts?: { fence?: string }): Promise<void> {
    const qs = stage(write);
    if (qs.length === 0) return;
    await this.#inTransaction(async (client) => {
      if (opts?.fence !== undefined) await this.#checkFence(client, opts.fence);
      for (const q of qs) {
        const res = await client.query(q.text, q.values);
        if (q.mustTouch && res.rowCount === 0) throw new Error(q.mustTouch);
      }
    });
  }

  /** BEGIN, `body`, COMMIT; ROLLBACK on any failure (a connection that cannot roll back is discarded). */
  async #inTransaction(body: (client: pg.PoolClient) => Promise<void>): Promise<void> {
    const client = await this.#pool.connect();
    let broken: Error | undefined;
    // A connection the database drops while it is checked out (a restart, an admin shutdown)
    // also emits 'error' on the client: without a listener that would end the process. The
    // query in flight rejects on its own; the connection is discarded on release.
    const lost = (e: Error) => {
      broken ??= e;
    };
    client.on('error', lost);
    try {
      await client.query('BEGIN');
      try {
        await body(client);
        await client.query('COMMIT');
      } catch (e) {
        await client.query('ROLLBACK').catch((re: Error) => {
          broken = re;
        });
        throw e;
      }
    } finally {
      client.off('error', lost);
      client.release(broken);
    }
  }

  async #one<R extends pg.QueryResultRow>(text: string, values: unknown[]): Promise<R | undefined> {
    return (await this.#pool.query<R>(text, values)).rows[0];
  }

  async #all<R extends pg.QueryResultRow>(text: string, values: unknown[]): Promise<R[]> {
    return (await this.#pool.query<R>(text, values)).rows;
  }

  async meetingByCode(codeHash: string): Promise<MeetingRecord | undefined> {
    const r = await this.#one<MeetingRow>(`SELECT ${MEETING_COLS} FROM meetings WHERE code_hash = $1`, [codeHash]);
    return r && meetingOf(r);
  }

  async meeting(id: string): Promise<MeetingRecord | undefined> {
    const r = await this.#one<MeetingRow>(`SELECT ${MEETING_COLS} FROM meetings WHERE id = $1`, [id]);
    return r && meetingOf(r);
  }

  async network(id: string): Promise<NetworkRecord | undefined> {
    const r = await this.#one<{ id: string; name: string; first_contact_at: number }>(
      'SELECT id, name, first_contact_at FROM networks WHERE id = $1',
      [id],
    );
    return r && { id: r.id, name: r.name, firstContactAt: r.first_contact_at };
  }

  async meetingsOfNetwork(networkId: string): Promise<MeetingRecord[]> {
    const rows = await this.#all<MeetingRow>(
      `SELECT ${MEETING_COLS} FROM meetings WHERE network_id = $1 ORDER BY opened_at, id`,
      [networkId],
    );
    return rows.map(meetingOf);
  }

  async participant(id: string): Promise<ParticipantRecord | undefined> {
    const r = await this.#one<ParticipantRow>(`SELECT ${PARTICIPANT_COLS} FROM participants WHERE id = $1`, [id]);
    return r && participantOf(r);
  }

  async participantsByTokenHash(hash: string): Promise<ParticipantRecord[]> {
    const rows = await this.#all<ParticipantRow>(
      `SELECT ${PARTICIPANT_COLS} FROM participants WHERE token_hash = $1 ORDER BY joined_at, id`,
      [hash],
    );
    return rows.map(participantOf);
  }

  async participants(meetingId: string): Promise<ParticipantRecord[]> {
    const rows = await this.#all<ParticipantRow>(
      `SELECT ${PARTICIPANT_COLS} FROM participants WHERE meeting_id = $1 ORDER BY joined_at, id`,
      [meetingId],
    );
    return rows.map(participantOf);
  }

  async session(hash: string): Promise<SessionRecord | undefined> {
    const r = await this.#one<{ hash: string; members: string[]; created_at: number }>(
      'SELECT hash, members, created_at FROM sessions WHERE hash = $1',
      [hash],
    );
    return r && { hash: r.hash, members: r.members, createdAt: r.created_at };
  }

  async accessLog(meetingId: string): Promise<AccessEntry[]> {
    const rows = await this.#all<{
      meeting_id: string;
      participant_id: string;
      action: AccessEntry['action'];
      at: number;
      note: string | null;
    }>('SELECT meeting_id, participant_id, action, at, note FROM access_log WHERE meeting_id = $1 ORDER BY seq', [
      meetingId,
    ]);
    return rows.map((r) => ({
      meetingId: r.meeting_id,
      participantId: r.participant_id,
      action: r.action,
      at: r.at,
      ...(r.note !== null ? { note: r.note } : {}),
    }));
  }

  /** Run `op` after the meeting's earlier log operations (call order), whatever they resolved to. */
  #serial<T>(meetingId: string, op: () => Promise<T>): Promise<T> {
    const run = (this.#chains.get(meetingId) ?? Promise.resolve()).then(op);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.#chains.set(meetingId, tail);
    void tail.then(() => {
      if (this.#chains.get(meetingId) === tail) this.#chains.delete(meetingId);
    });
    return run;
  }

  async loadUpdates(meetingId: string): Promise<DocUpdate[]> {
    checkId(meetingId);
    return this.#serial(meetingId, async () => {
      const rows = await this.#all<{ doc: string; data: Buffer }>(
        'SELECT doc, data FROM doc_updates WHERE meeting_id = $1 ORDER BY seq',
        [meetingId],
      );
      return rows.map((r) => ({ doc: r.doc, update: new Uint8Array(r.data.buffer, r.data.byteOffset, r.data.length) }));
    });
  }

  async appendUpdates(meetingId: string, updates: readonly DocUpdate[]): Promise<void> {
    checkId(meetingId);
    if (updates.length === 0) return;
    await this.#serial(meetingId, () =>
      // One statement, one COMMIT for the whole batch, in the batch's order.
      this.#fenced(meetingId, async (client) => {
        await client.query(INSERT_UPDATES, [meetingId, ...columns(updates)]);
      }),
    );
  }

  async compact(meetingId: string, updates: readonly DocUpdate[]): Promise<void> {
    checkId(meetingId);
    await this.#serial(meetingId, () =>
      this.#inTransaction(async (client) => {
        await this.#checkFence(client, meetingId);
        // Exactly the rows there now: the ones the caller loaded and folded (it appends nothing meanwhile).
        const { rows } = await client.query<{ last: number | null }>(
          'SELECT max(seq) AS last FROM doc_updates WHERE meeting_id = $1',
          [meetingId],
        );
        const last = rows[0]?.last ?? null;
        if (last !== null) {
          await client.query('DELETE FROM doc_updates WHERE meeting_id = $1 AND seq <= $2', [meetingId, last]);
        }
        if (updates.length) await client.query(INSERT_UPDATES, [meetingId, ...columns(updates)]);
      }),
    );
  }

  async removeUpdates(meetingId: string): Promise<void> {
    checkId(meetingId);
    await this.#serial(meetingId, () =>
      this.#fenced(meetingId, async (client) => {
        await client.query('DELETE FROM doc_updates WHERE meeting_id = $1', [meetingId]);
      }),
    );
  }

  async close(): Promise<void> {
    await Promise.all([...this.#chains.values()]);
    await this.#pool.end();
  }
}

const INSERT_UPDATES = `
  INSERT INTO doc_updates (meeting_id, doc, data)
  SELECT $1, u.doc, u.data FROM unnest($2::text[], $3::bytea[]) WITH ORDINALITY AS u (doc, data, i)
  ORDER BY u.i`;

function columns(updates: readonly DocUpdate[]): [string[], Buffer[]] {
  return [
    updates.map((u) => u.doc),
    updates.map((u) => Buffer.from(u.update.buffer, u.update.byteOffset, u.update.byteLength)),
  ];
}
