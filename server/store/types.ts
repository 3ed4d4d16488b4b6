/**
 * Storage behind one interface. The embedded default (`FileStore`) keeps meetings, networks,
 * participants and sessions in lowdb, and each meeting's Yjs updates in an append-only,
 * checksummed, fsynced log of its own. Another store (PostgreSQL…) implements the same contract
 * and runs the same contract tests (tests/store.contract.test.ts).
 */

export interface NetworkRecord {
  id: string;
  /** When the network first contacted the service (the 24-hour aim counts from here). */
  firstContactAt: number;
}

export interface MeetingRecord {
  id: string;
  networkId: string;
  openedAt: number;
  /** sha256 of the join link's secret. */
  joinHash: string;
  status: 'open' | 'ended';
  locked: boolean;
  /** Participant ids who facilitate. */
  facilitators: string[];
}

export interface ParticipantRecord {
  id: string;
  meetingId: string;
  /** sha256 of the personal link's secret. */
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
}

export interface SessionRecord {
  /** sha256 of the cookie's secret. */
  hash: string;
  participants: string[];
  createdAt: number;
}

/** One Yjs update of one document of a meeting. */
export interface DocUpdate {
  doc: string;
  update: Uint8Array;
}

export interface Store {
  createMeeting(network: NetworkRecord | null, meeting: MeetingRecord, facilitator: ParticipantRecord): Promise<void>;
  meeting(id: string): Promise<MeetingRecord | undefined>;
  updateMeeting(id: string, patch: Partial<Pick<MeetingRecord, 'status' | 'locked' | 'facilitators'>>): Promise<void>;
  addParticipant(p: ParticipantRecord): Promise<void>;
  updateParticipant(id: string, patch: Partial<Pick<ParticipantRecord, 'name' | 'relation' | 'aboutMe' | 'revoked' | 'removed' | 'tokenHash'>>): Promise<void>;
  participant(id: string): Promise<ParticipantRecord | undefined>;
  participantByTokenHash(hash: string): Promise<ParticipantRecord | undefined>;
  participants(meetingId: string): Promise<ParticipantRecord[]>;
  /** Create or extend a browser session with one more participant. */
  addToSession(hash: string, participantId: string): Promise<void>;
  session(hash: string): Promise<SessionRecord | undefined>;

  /** Every stored update of a meeting, in the order they were appended. Throws `DamagedError`. */
  loadUpdates(meetingId: string): Promise<DocUpdate[]>;
  /** Append updates; resolves only once they are durably on disk. */
  appendUpdates(meetingId: string, updates: readonly DocUpdate[]): Promise<void>;
  /** Atomically replace a meeting's log with an equivalent, shorter one. */
  compact(meetingId: string, updates: readonly DocUpdate[]): Promise<void>;
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
