/**
 * Storage behind one interface. The embedded default (`FileStore`) keeps meetings, networks,
 * participants and sessions in lowdb (a file per network, sessions in shards), and each meeting's
 * Yjs updates in an append-only, checksummed, fsynced log of its own. `PgStore` (DATABASE_URL)
 * implements the same contract on PostgreSQL; both run the same contract tests
 * (tests/store.contract.test.ts).
 */

export interface NetworkRecord {
  id: string;
  /** Named by its members ("Anna's network"); empty until they do. */
  name: string;
  /** When the network first contacted the service (the 24-hour aim counts from here). */
  firstContactAt: number;
}

export interface MeetingRecord {
  id: string;
  networkId: string;
  /** The network's meeting before this one, if any. */
  previous: string | null;
  openedAt: number;
  endedAt?: number;
  /** Set once the whole record was erased (by consent); nothing of its words is kept. */
  erased?: boolean;
  /** sha256 of the join link's secret. */
  joinHash: string;
  /**
   * sha256 of the short code that can be read aloud in the room (ten digits), and until when it
   * admits anyone (ms since the epoch): a second way to the join page, only for a while.
   */
  codeHash?: string;
  codeUntil?: number;
  status: 'open' | 'ended';
  locked: boolean;
  /** Participant ids who facilitate. */
  facilitators: string[];
}

export interface ParticipantRecord {
  id: string;
  meetingId: string;
  /**
   * sha256 of the personal link's secret. One person keeps one personal link across a network's
   * meetings: their participant record in each meeting carries the same hash.
   */
  tokenHash: string;
  name: string;
  relation: string;
  aboutMe: boolean;
  joinedAt: number;
  /** The personal link no longer admits anyone. */
  revoked: boolean;
  /** Removed from the meeting by a facilitator (also revoked). */
  removed?: boolean;
  /** Added by this participant, for a person without a device of their own. */
  addedBy?: string;
  /** Their words (and name) were erased at their request. */
  erased?: boolean;
}

export interface SessionRecord {
  /** sha256 of the cookie's secret. */
  hash: string;
  /** Personal-link hashes of the people this browser is (a shared device may hold several). */
  members: string[];
  createdAt: number;
}

export type AccessAction =
  | 'opened-record'
  | 'exported-json'
  | 'exported-markdown'
  | 'exported-calendar'
  | 'revoked-link'
  | 'erasure-requested'
  | 'erasure-refused'
  | 'erased-own-words'
  | 'erased-record';

/** Who opened, exported or changed access to a record, and when. Never any words of the record. */
export interface AccessEntry {
  meetingId: string;
  participantId: string;
  action: AccessAction;
  at: number;
  note?: string;
}

/** One Yjs update of one document of a meeting. */
export interface DocUpdate {
  doc: string;
  update: Uint8Array;
}

/** Reads of the relational records (meetings, networks, participants, sessions, access log). */
export interface RecordReader {
  meeting(id: string): Promise<MeetingRecord | undefined>;
  /** The meeting whose short code has this hash (whether or not it still admits anyone). */
  meetingByCode(codeHash: string): Promise<MeetingRecord | undefined>;
  network(id: string): Promise<NetworkRecord | undefined>;
  /** A network's meetings, oldest first. */
  meetingsOfNetwork(networkId: string): Promise<MeetingRecord[]>;
  participant(id: string): Promise<ParticipantRecord | undefined>;
  /** Every participant record of the person with this personal-link hash (one per meeting). */
  participantsByTokenHash(hash: string): Promise<ParticipantRecord[]>;
  participants(meetingId: string): Promise<ParticipantRecord[]>;
  session(hash: string): Promise<SessionRecord | undefined>;
  accessLog(meetingId: string): Promise<AccessEntry[]>;
}

export type MeetingPatch = Partial<Pick<MeetingRecord, 'status' | 'locked' | 'facilitators' | 'endedAt' | 'erased'>>;
export type NetworkPatch = Partial<Pick<NetworkRecord, 'name' | 'firstContactAt'>>;
export type ParticipantPatch = Partial<
  Pick<ParticipantRecord, 'name' | 'relation' | 'aboutMe' | 'revoked' | 'removed' | 'erased' | 'tokenHash'>
>;

/**
 * The writes of one unit of work. Calls only *stage* a write (they return nothing and see nothing);
 * `Store.transaction` applies them all, in order, or none, and resolves once they are durable.
 * Read what you need before the transaction. A write that breaks a constraint fails the whole
 * transaction: an update of an unknown id; a meeting whose network does not exist (or exists already,
 * when it is given); a participant of an unknown meeting, with a taken id, or with a personal-link
 * hash another participant of the same meeting has; an access entry about an unknown meeting or
 * participant. (The same hash in different meetings is one person: that is allowed.)
 */
export interface RecordWriter {
  /** Create a meeting with its first participants (and its network, for a network's first meeting). */
  createMeeting(
    network: NetworkRecord | null,
    meeting: MeetingRecord,
    participants: readonly ParticipantRecord[],
  ): void;
  updateMeeting(id: string, patch: MeetingPatch): void;
  updateNetwork(id: string, patch: NetworkPatch): void;
  addParticipant(p: ParticipantRecord): void;
  updateParticipant(id: string, patch: ParticipantPatch): void;
  /** Create or extend a browser session with one more person (by personal-link hash). */
  addToSession(hash: string, memberHash: string, at: number): void;
  /** Take a person off a browser session ("remove this meeting from this device"). */
  removeFromSession(hash: string, memberHash: string): void;
  logAccess(entry: AccessEntry): void;
}

/**
 * Each meeting's Yjs updates: an append-only log per meeting. Its only writer is that meeting's
 * write queue (server/meetings/), one at a time.
 */
export interface UpdateLogStore {
  /** Every stored update of a meeting, in the order they were appended. Throws `DamagedError`. */
  loadUpdates(meetingId: string): Promise<DocUpdate[]>;
  /** Append updates; resolves only once they are durably stored. */
  appendUpdates(meetingId: string, updates: readonly DocUpdate[]): Promise<void>;
  /**
   * Atomically replace everything appended so far with an equivalent, shorter log. The caller
   * appends nothing while this runs.
   */
  compact(meetingId: string, updates: readonly DocUpdate[]): Promise<void>;
  /** Delete a meeting's stored updates entirely (erasure: gone, not flagged). */
  removeUpdates(meetingId: string): Promise<void>;
}

/**
 * The store contract (tests/store.contract.test.ts runs it against every implementation).
 * Only the commands layer (server/commands/) calls `transaction`; nothing else writes records.
 */
export interface Store extends RecordReader, UpdateLogStore {
  /**
   * Apply the staged writes all or none; resolves once durable. With `fence`, the writes are made
   * by the owner of that meeting: with several instances they commit only while this instance
   * still holds the meeting's lease, else fail with `FencedError` and nothing is written (as every
   * write to a meeting's update log does). One instance: no lease, nothing to check.
   */
  transaction(write: (tx: RecordWriter) => void, opts?: { fence?: string }): Promise<void>;
  /** Name every meeting whose stored log cannot be read back (read only; optional). */
  scanLogs?(): Promise<Array<{ meetingId: string; error: DamagedError }>>;
  close(): Promise<void>;
}

/** Stored data that cannot be read back as written. The file is kept as it is, for recovery. */
export class DamagedError extends Error {
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`damaged storage in ${file}: ${reason}`);
    this.name = 'DamagedError';
  }
}

/**
 * A write to a meeting's update log was refused because this instance no longer holds the
 * meeting's lease (several instances): another instance serves it now. Nothing was written.
 */
export class FencedError extends Error {
  constructor(readonly meetingId: string) {
    super('this instance no longer holds the meeting');
    this.name = 'FencedError';
  }
}
