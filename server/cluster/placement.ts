/**
 * Where each meeting is served. One instance at a time holds a meeting (its *owner*): it alone
 * loads it, checks every write and appends to its update log. Alone (no REDIS_URL) that is always
 * this instance; with several instances it is decided by a lease in PostgreSQL (leases.ts).
 */

/** This instance's hold on a meeting. */
export interface Claim {
  /** The fencing token: grows with every change of owner; the store checks it on every write. */
  readonly token: number;
  /** Whether the lease is still certainly ours (checked, on this machine's clock, before serving). */
  valid(): boolean;
}

/** Another instance serves this meeting now. */
export class NotOwner extends Error {
  constructor(readonly owner: string) {
    super('another instance serves this meeting');
    this.name = 'NotOwner';
  }
}

export interface Placement {
  /** This instance's name among the others (unique per process). */
  readonly instance: string;
  /** Whether other instances may serve meetings too. */
  readonly shared: boolean;
  /** Take (or renew) this instance's hold on a meeting before loading it. Throws `NotOwner`. */
  claim(meetingId: string): Promise<Claim>;
  /** Give a meeting up (unloaded, or handed over at shutdown). */
  release(meetingId: string): Promise<void>;
  /** Which instance serves a meeting now: `'here'` when it is, or when nobody does. */
  locate(meetingId: string): Promise<'here' | string>;
  /** `locate` for many meetings at once, in one question to the database. */
  locateAll(meetingIds: readonly string[]): Promise<Map<string, 'here' | string>>;
  /** Called when a lease could not be renewed: the meeting must stop being served here at once. */
  onLost(handler: (meetingId: string) => void): void;
  close(): Promise<void>;
}

/** One instance: every meeting is served here. */
export function soloPlacement(instance: string): Placement {
  const always: Claim = { token: 0, valid: () => true };
  return {
    instance,
    shared: false,
    claim: () => Promise.resolve(always),
    release: () => Promise.resolve(),
    locate: () => Promise.resolve('here'),
    locateAll: (ids) => Promise.resolve(new Map(ids.map((id) => [id, 'here']))),
    onLost: () => undefined,
    close: () => Promise.resolve(),
  };
}
