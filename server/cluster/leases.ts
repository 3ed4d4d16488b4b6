/**
 * Meeting leases in PostgreSQL (several instances). A lease names the one instance that serves a
 * meeting, until `expires_at` (the database's clock); its holder renews all its leases every
 * third of the lease time in one statement. Taking a lease over (it expired: its holder died or
 * stalled) bumps the token, and every write to the meeting's update log checks the token in the
 * same transaction (PgStore's fence), so a holder that stalled past its lease cannot write
 * anything after the new owner loaded the meeting. This instance also stops serving a meeting on
 * its own clock as soon as the lease *may* have run out (`valid()`), before the database has to
 * say so.
 */
import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import type { Log } from '../context.js';
import { NotOwner, type Claim, type Placement } from './placement.js';

interface Held {
  token: number;
  /** performance.now() before which the lease is certainly still ours. */
  until: number;
}

export class Leases implements Placement {
  readonly shared = true;
  readonly #held = new Map<string, Held>();
  readonly #lostHandlers: Array<(meetingId: string) => void> = [];
  readonly #timer: NodeJS.Timeout;
  #renewing: Promise<void> | null = null;

  constructor(
    readonly pool: pg.Pool,
    readonly instance: string,
    /** How long a lease lasts without renewal (ms). */
    readonly leaseMs: number,
    readonly log: Log,
  ) {
    this.#timer = setInterval(() => void this.renew(), Math.max(100, Math.floor(leaseMs / 3)));
    this.#timer.unref();
  }

  fence(meetingId: string): { owner: string; token: number } | undefined {
    const held = this.#held.get(meetingId);
    return held && { owner: this.instance, token: held.token };
  }

  async claim(meetingId: string): Promise<Claim> {
    const started = performance.now();
    const { rows } = await this.pool.query<{ token: number }>(
      `INSERT INTO meeting_leases AS l (meeting_id, owner, token, expires_at)
       VALUES ($1, $2, 1, now() + make_interval(secs => $3::double precision / 1000))
       ON CONFLICT (meeting_id) DO UPDATE
         SET owner = EXCLUDED.owner, token = l.token + 1, expires_at = EXCLUDED.expires_at
         WHERE l.expires_at < now() OR l.owner = EXCLUDED.owner
       RETURNING token`,
      [meetingId, this.instance, this.leaseMs],
    );
    const token = rows[0]?.token;
    if (token === undefined) {
      const owner = await this.#ownerOf(meetingId);
      throw new NotOwner(owner ?? 'unknown');
    }
    const held: Held = { token, until: started + this.leaseMs };
    this.#held.set(meetingId, held);
    return { token, valid: () => this.#held.get(meetingId) === held && performance.now() < held.until };
  }

  async release(meetingId: string): Promise<void> {
    const held = this.#held.get(meetingId);
    if (!held) return;
    this.#held.delete(meetingId);
    await this.pool
      .query('DELETE FROM meeting_leases WHERE meeting_id = $1 AND owner = $2 AND token = $3', [
        meetingId,
        this.instance,
        held.token,
      ])
      .catch((e: Error) => this.log.warn({ meeting: meetingId, err: e.message }, 'could not release a lease'));
  }

  async locate(meetingId: string): Promise<'here' | string> {
    const { rows } = await this.pool.query<{ owner: string; live: boolean }>(
      'SELECT owner, expires_at > now() AS live FROM meeting_leases WHERE meeting_id = $1',
      [meetingId],
    );
    const row = rows[0];
    if (!row || !row.live || row.owner === this.instance) return 'here';
    return row.owner;
  }

  /** The owners of several meetings at once (relays check that theirs have not moved). */
  async locateAll(meetingIds: readonly string[]): Promise<Map<string, 'here' | string>> {
    const out = new Map<string, 'here' | string>(meetingIds.map((id) => [id, 'here']));
    if (meetingIds.length === 0) return out;
    const { rows } = await this.pool.query<{ meeting_id: string; owner: string }>(
      'SELECT meeting_id, owner FROM meeting_leases WHERE meeting_id = ANY($1) AND expires_at > now()',
      [meetingIds],
    );
    for (const r of rows) if (r.owner !== this.instance) out.set(r.meeting_id, r.owner);
    return out;
  }

  async #ownerOf(meetingId: string): Promise<string | undefined> {
    const { rows } = await this.pool.query<{ owner: string }>(
      'SELECT owner FROM meeting_leases WHERE meeting_id = $1',
      [meetingId],
    );
    return rows[0]?.owner;
  }

  onLost(handler: (meetingId: string) => void): void {
    this.#lostHandlers.push(handler);
  }

  /** Renew every lease held, in one statement; a lease that was not renewed is lost. */
  renew(): Promise<void> {
    return (this.#renewing ??= this.#renew().finally(() => (this.#renewing = null)));
  }

  async #renew(): Promise<void> {
    const ids = [...this.#held.keys()];
    if (ids.length === 0) return;
    const started = performance.now();
    let rows: Array<{ meeting_id: string; token: number }>;
    try {
      ({ rows } = await this.pool.query<{ meeting_id: string; token: number }>(
        `UPDATE meeting_leases SET expires_at = now() + make_interval(secs => $3::double precision / 1000)
         WHERE owner = $1 AND meeting_id = ANY($2) AND expires_at > now()
         RETURNING meeting_id, token`,
        [this.instance, ids, this.leaseMs],
      ));
    } catch (e) {
      // The database is unreachable: the leases run out on their own; `valid()` says so in time.
      this.log.warn({ err: (e as Error).message }, 'could not renew leases');
      for (const id of ids) if (!this.#valid(id)) this.#lose(id);
      return;
    }
    const renewed = new Map(rows.map((r) => [r.meeting_id, r.token]));
    for (const id of ids) {
      const held = this.#held.get(id);
      if (!held) continue;
      if (renewed.get(id) === held.token) held.until = started + this.leaseMs;
      else this.#lose(id);
    }
  }

  #valid(id: string): boolean {
    const held = this.#held.get(id);
    return held !== undefined && performance.now() < held.until;
  }

  #lose(id: string): void {
    if (!this.#held.delete(id)) return;
    this.log.warn({ meeting: id }, 'lease lost; another instance serves this meeting now');
    for (const h of this.#lostHandlers) h(id);
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#renewing;
    await Promise.all([...this.#held.keys()].map((id) => this.release(id)));
  }
}
