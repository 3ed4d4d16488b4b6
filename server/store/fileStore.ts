/**
 * The embedded default store: lowdb for meetings, networks, participants and sessions
 * (`data/db.json`, written atomically and fsynced), and one append-only update log per meeting
 * (`data/meetings/<id>.ylog`).
 */
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { Low, type Adapter } from 'lowdb';
import { isId } from '../../shared/ids.js';
import { writeFileDurably } from './fsutil.js';
import { UpdateLog } from './updateLog.js';
import {
  DamagedError,
  type AccessEntry,
  type DocUpdate,
  type MeetingRecord,
  type NetworkRecord,
  type ParticipantRecord,
  type RecordWriter,
  type SessionRecord,
  type Store,
} from './types.js';

interface Data {
  version: 1;
  networks: Record<string, NetworkRecord>;
  meetings: Record<string, MeetingRecord>;
  participants: Record<string, ParticipantRecord>;
  sessions: Record<string, SessionRecord>;
  access: AccessEntry[];
}

const empty = (): Data => ({ version: 1, networks: {}, meetings: {}, participants: {}, sessions: {}, access: [] });

/**
 * A lowdb adapter that writes atomically *and durably* (lowdb's own JSONFile never fsyncs),
 * coalesces concurrent writes into one, and never overwrites a file it could not read.
 */
class DurableJsonFile implements Adapter<Data> {
  #writing: Promise<void> | null = null;
  #queued: { data: Data; waiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> } | null = null;

  constructor(readonly file: string) {}

  async read(): Promise<Data | null> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (e) {
      throw new DamagedError(this.file, `invalid JSON (${(e as Error).message})`);
    }
    if (!isData(data)) throw new DamagedError(this.file, 'unexpected shape');
    return data;
  }

  write(data: Data): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.#queued) {
        this.#queued.data = data;
        this.#queued.waiters.push({ resolve, reject });
      } else {
        this.#queued = { data, waiters: [{ resolve, reject }] };
      }
      if (!this.#writing) void this.#drain();
    });
  }

  async #drain(): Promise<void> {
    while (this.#queued) {
      const { data, waiters } = this.#queued;
      this.#queued = null;
      const json = JSON.stringify(data);
      this.#writing = writeFileDurably(this.file, json);
      try {
        await this.#writing;
        for (const w of waiters) w.resolve();
      } catch (e) {
        for (const w of waiters) w.reject(e);
      }
    }
    this.#writing = null;
  }
}

function isData(d: unknown): d is Data {
  if (typeof d !== 'object' || d === null) return false;
  const o = d as Record<string, unknown>;
  return (
    o.version === 1 &&
    ['networks', 'meetings', 'participants', 'sessions'].every(
      (k) => typeof o[k] === 'object' && o[k] !== null && !Array.isArray(o[k]),
    ) &&
    Array.isArray(o.access)
  );
}

/** Own-property lookup: ids are validated, and this makes prototype keys impossible regardless. */
function get<T>(rec: Record<string, T>, key: string): T | undefined {
  return Object.hasOwn(rec, key) ? rec[key] : undefined;
}

/** Records go in and come out as copies, as with any database: nobody changes the store by accident. */
const copy = <T>(value: T): T => structuredClone(value);

export class FileStore implements Store {
  #db: Low<Data>;
  #logs = new Map<string, UpdateLog>();
  #byToken = new Map<string, Set<string>>();

  private constructor(
    readonly dir: string,
    db: Low<Data>,
  ) {
    this.#db = db;
    for (const p of Object.values(db.data.participants)) this.#index(p);
  }

  #index(p: ParticipantRecord): void {
    let ids = this.#byToken.get(p.tokenHash);
    if (!ids) this.#byToken.set(p.tokenHash, (ids = new Set()));
    ids.add(p.id);
  }

  static async open(dir: string): Promise<FileStore> {
    await mkdir(path.join(dir, 'meetings'), { recursive: true });
    const file = path.join(dir, 'db.json');
    const db = new Low<Data>(new DurableJsonFile(file), empty());
    await db.read();
    return new FileStore(dir, db);
  }

  get #data(): Data {
    return this.#db.data;
  }

  #createMeeting(
    network: NetworkRecord | null,
    meeting: MeetingRecord,
    participants: readonly ParticipantRecord[],
  ): void {
    if (network) {
      if (get(this.#data.networks, network.id)) throw new Error('network exists');
      this.#data.networks[network.id] = copy(network);
    }
    if (!get(this.#data.networks, meeting.networkId)) throw new Error('no such network');
    if (get(this.#data.meetings, meeting.id)) throw new Error('meeting exists');
    this.#data.meetings[meeting.id] = copy(meeting);
    for (const p of participants) this.#addParticipant(p);
  }

  /**
   * Staged writes are applied in memory in one synchronous step (so no other transaction sees half
   * of them), then written with one durable write of db.json (concurrent transactions share it).
   * A write that fails validation undoes the ones before it.
   */
  async transaction(write: (tx: RecordWriter) => void): Promise<void> {
    const ops: Array<() => void> = [];
    write({
      createMeeting: (n, m, ps) => ops.push(() => this.#createMeeting(n, m, ps)),
      updateMeeting: (id, patch) => ops.push(() => this.#updateMeeting(id, patch)),
      updateNetwork: (id, patch) => ops.push(() => this.#updateNetwork(id, patch)),
      addParticipant: (p) => ops.push(() => this.#addParticipant(p)),
      updateParticipant: (id, patch) => ops.push(() => this.#updateParticipant(id, patch)),
      addToSession: (hash, member, at) => ops.push(() => this.#addToSession(hash, member, at)),
      removeFromSession: (hash, member) => ops.push(() => this.#removeFromSession(hash, member)),
      logAccess: (entry) => ops.push(() => this.#logAccess(entry)),
    });
    if (ops.length === 0) return;
    const before = structuredClone(this.#data);
    try {
      for (const op of ops) op();
    } catch (e) {
      this.#db.data = before;
      this.#reindex();
      throw e;
    }
    await this.#db.write();
  }

  #reindex(): void {
    this.#byToken.clear();
    for (const p of Object.values(this.#data.participants)) this.#index(p);
  }

  async network(id: string): Promise<NetworkRecord | undefined> {
    return copy(get(this.#data.networks, id));
  }

  #updateNetwork(id: string, patch: Partial<Pick<NetworkRecord, 'name' | 'firstContactAt'>>): void {
    const n = get(this.#data.networks, id);
    if (!n) throw new Error('no such network');
    Object.assign(n, copy(patch));
  }

  async meetingsOfNetwork(networkId: string): Promise<MeetingRecord[]> {
    return copy(
      Object.values(this.#data.meetings)
        .filter((m) => m.networkId === networkId)
        .sort((a, b) => a.openedAt - b.openedAt),
    );
  }

  async meeting(id: string): Promise<MeetingRecord | undefined> {
    return copy(get(this.#data.meetings, id));
  }

  #updateMeeting(
    id: string,
    patch: Partial<Pick<MeetingRecord, 'status' | 'locked' | 'facilitators' | 'endedAt' | 'erased'>>,
  ): void {
    const m = get(this.#data.meetings, id);
    if (!m) throw new Error('no such meeting');
    Object.assign(m, copy(patch));
  }

  #addParticipant(p: ParticipantRecord): void {
    if (!get(this.#data.meetings, p.meetingId)) throw new Error('no such meeting');
    if (get(this.#data.participants, p.id)) throw new Error('participant exists');
    this.#uniqueInMeeting(p.meetingId, p.tokenHash);
    this.#data.participants[p.id] = copy(p);
    this.#index(p);
  }

  #updateParticipant(
    id: string,
    patch: Partial<
      Pick<ParticipantRecord, 'name' | 'relation' | 'aboutMe' | 'revoked' | 'removed' | 'erased' | 'tokenHash'>
    >,
  ): void {
    const p = get(this.#data.participants, id);
    if (!p) throw new Error('no such participant');
    if (patch.tokenHash !== undefined && patch.tokenHash !== p.tokenHash) {
      this.#uniqueInMeeting(p.meetingId, patch.tokenHash);
    }
    this.#byToken.get(p.tokenHash)?.delete(p.id);
    Object.assign(p, copy(patch));
    this.#index(p);
  }

  async participant(id: string): Promise<ParticipantRecord | undefined> {
    return copy(get(this.#data.participants, id));
  }

  async participantsByTokenHash(hash: string): Promise<ParticipantRecord[]> {
    const out: ParticipantRecord[] = [];
    for (const id of this.#byToken.get(hash) ?? []) {
      const p = get(this.#data.participants, id);
      if (p) out.push(copy(p));
    }
    return out;
  }

  async participants(meetingId: string): Promise<ParticipantRecord[]> {
    return copy(Object.values(this.#data.participants).filter((p) => p.meetingId === meetingId));
  }

  #addToSession(hash: string, memberHash: string, at: number): void {
    const s = get(this.#data.sessions, hash);
    if (s) {
      if (s.members.includes(memberHash)) return;
      s.members.push(memberHash);
    } else {
      this.#data.sessions[hash] = { hash, members: [memberHash], createdAt: at };
    }
  }

  #removeFromSession(hash: string, memberHash: string): void {
    const s = get(this.#data.sessions, hash);
    if (!s || !s.members.includes(memberHash)) return;
    s.members = s.members.filter((m) => m !== memberHash);
  }

  #uniqueInMeeting(meetingId: string, hash: string): void {
    for (const id of this.#byToken.get(hash) ?? []) {
      if (get(this.#data.participants, id)?.meetingId === meetingId) throw new Error('personal link in use');
    }
  }

  #logAccess(entry: AccessEntry): void {
    if (!get(this.#data.meetings, entry.meetingId)) throw new Error('no such meeting');
    if (!get(this.#data.participants, entry.participantId)) throw new Error('no such participant');
    this.#data.access.push(copy(entry));
  }

  async accessLog(meetingId: string): Promise<AccessEntry[]> {
    return copy(this.#data.access.filter((e) => e.meetingId === meetingId));
  }

  async removeUpdates(meetingId: string): Promise<void> {
    await this.#log(meetingId).remove();
    this.#logs.delete(meetingId);
  }

  async session(hash: string): Promise<SessionRecord | undefined> {
    return copy(get(this.#data.sessions, hash));
  }

  #log(meetingId: string): UpdateLog {
    if (!isId(meetingId)) throw new Error('invalid meeting id');
    let log = this.#logs.get(meetingId);
    if (!log) {
      log = new UpdateLog(path.join(this.dir, 'meetings', `${meetingId}.ylog`));
      this.#logs.set(meetingId, log);
    }
    return log;
  }

  async loadUpdates(meetingId: string): Promise<DocUpdate[]> {
    try {
      return await this.#log(meetingId).load();
    } catch (e) {
      if (e instanceof DamagedError) await keepForRecovery(e.file);
      throw e;
    }
  }

  async appendUpdates(meetingId: string, updates: readonly DocUpdate[]): Promise<void> {
    return this.#log(meetingId).append(updates);
  }

  async compact(meetingId: string, updates: readonly DocUpdate[]): Promise<void> {
    return this.#log(meetingId).replace(updates);
  }

  async close(): Promise<void> {
    await Promise.all([...this.#logs.values()].map((l) => l.close()));
    this.#logs.clear();
  }
}

/** Leave a copy of a damaged file beside it (once), so nothing can ever overwrite the original bytes. */
async function keepForRecovery(file: string): Promise<void> {
  const copy = `${file}.damaged-${Date.now()}`;
  try {
    await copyFile(file, copy);
  } catch {
    // best effort: the original stays untouched either way
  }
}
