/**
 * The embedded default store. Records live in lowdb documents, one small JSON file per network
 * (the network, its meetings, their participants and access log: `data/networks/<id>.json`) and
 * sessions in 256 shards (`data/sessions/<xx>.json`), so a write costs what its network (or its
 * shard) holds, never what the whole server ever stored. Each meeting's Yjs updates are an
 * append-only, checksummed, fsynced log of their own (`data/meetings/<id>.ylog`).
 *
 * Transactions. Staged writes are applied in memory in one synchronous step, with an undo list (a
 * write that fails validation undoes the ones before it; nothing is cloned wholesale), then the
 * files they touched are written by the group-commit flusher, which writes every file dirtied since
 * the last flush together. Each flush has a sequence number, stored in every file it writes:
 *
 *   1. one file: written atomically (temp file, fsync, rename, fsync the directory);
 *   2. several files: first a journal holding all their new contents (`data/journal.json`,
 *      written the same way) — the commit point — then each file, then the journal is removed.
 *
 * A crash before the journal is durable leaves every file as it was (none of the flush); a crash
 * after it is repaired at open: every file in the journal whose sequence number is older than the
 * journal's is rewritten from it (all of the flush). The journal's removal need not be durable: a
 * stale journal is older than the files written by later flushes, so it rewrites nothing. A caller
 * is acknowledged only after step 1 or 2 finished.
 *
 * A data directory of the old layout (one `db.json` for everything) is split into this one at open;
 * `db.json` is removed only once every new file is durable (a crash meanwhile redoes the split).
 */
import { copyFile, mkdir, readFile, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { Low, type Adapter } from 'lowdb';
import { isId } from '../../shared/ids.js';
import { fsyncDir, writeFileDurably } from './fsutil.js';
import { UpdateLog, decodeRecords } from './updateLog.js';
import {
  DamagedError,
  type AccessEntry,
  type DocUpdate,
  type MeetingPatch,
  type MeetingRecord,
  type NetworkPatch,
  type NetworkRecord,
  type ParticipantPatch,
  type ParticipantRecord,
  type RecordWriter,
  type SessionRecord,
  type Store,
} from './types.js';

/** One network's records. */
interface NetworkFile {
  version: 2;
  /** The flush that last wrote this file. */
  txn: number;
  /** null only for records migrated from an old db.json whose network was missing. */
  network: NetworkRecord | null;
  meetings: Record<string, MeetingRecord>;
  participants: Record<string, ParticipantRecord>;
  access: AccessEntry[];
}

interface SessionFile {
  version: 2;
  txn: number;
  sessions: Record<string, SessionRecord>;
}

interface Journal {
  version: 2;
  txn: number;
  files: Array<{ file: string; text: string }>;
}

/** The old layout: everything in one db.json. */
interface LegacyData {
  version: 1;
  networks: Record<string, NetworkRecord>;
  meetings: Record<string, MeetingRecord>;
  participants: Record<string, ParticipantRecord>;
  sessions: Record<string, SessionRecord>;
  access: AccessEntry[];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function isNetworkFile(d: unknown): d is NetworkFile {
  return (
    isObject(d) &&
    d.version === 2 &&
    typeof d.txn === 'number' &&
    (d.network === null || isObject(d.network)) &&
    isObject(d.meetings) &&
    isObject(d.participants) &&
    Array.isArray(d.access)
  );
}

function isSessionFile(d: unknown): d is SessionFile {
  return isObject(d) && d.version === 2 && typeof d.txn === 'number' && isObject(d.sessions);
}

function isLegacy(d: unknown): d is LegacyData {
  return (
    isObject(d) &&
    d.version === 1 &&
    ['networks', 'meetings', 'participants', 'sessions'].every((k) => isObject(d[k])) &&
    Array.isArray(d.access)
  );
}

/** A lowdb adapter that reads a JSON file and refuses (never overwrites) one it cannot read. */
class CheckedJsonFile<T> implements Adapter<T> {
  constructor(
    readonly file: string,
    private readonly valid: (d: unknown) => d is T,
  ) {}

  async read(): Promise<T | null> {
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
    if (!this.valid(data)) throw new DamagedError(this.file, 'unexpected shape');
    return data;
  }

  /** Writes go through the store's flusher (several files as one commit), never file by file. */
  async write(): Promise<void> {
    throw new Error('written by the FileStore flusher');
  }
}

async function readChecked<T>(file: string, valid: (d: unknown) => d is T): Promise<T | null> {
  const db = new Low<T | null>(new CheckedJsonFile(file, valid) as Adapter<T | null>, null);
  await db.read();
  return db.data;
}

/** Own-property lookup: ids are validated, and this makes prototype keys impossible regardless. */
function get<T>(rec: Record<string, T>, key: string): T | undefined {
  return Object.hasOwn(rec, key) ? rec[key] : undefined;
}

/** Records go in and come out as copies, as with any database: nobody changes the store by accident. */
const copy = <T>(value: T): T => structuredClone(value);

const SHARDS = 256;
const shardOf = (sessionHash: string) =>
  (crc32(Buffer.from(sessionHash, 'utf8')) % SHARDS).toString(16).padStart(2, '0');
/** Key of the file holding legacy records whose meeting was missing (not an id: ids are 22 chars). */
const ORPHANS = '_orphans';

type Undo = () => void;

export class FileStore implements Store {
  readonly #nets = new Map<string, NetworkFile>();
  readonly #shards = new Map<string, SessionFile>();
  readonly #meetingNet = new Map<string, string>();
  readonly #byCode = new Map<string, string>();
  readonly #participantNet = new Map<string, string>();
  readonly #byToken = new Map<string, Set<string>>();
  readonly #logs = new Map<string, UpdateLog>();
  #txn = 0;
  /** Files changed in memory and not yet flushed: `n:<network>` or `s:<shard>`. */
  #dirty = new Set<string>();
  #waiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];
  #flushing: Promise<void> | null = null;

  private constructor(readonly dir: string) {}

  static async open(dir: string): Promise<FileStore> {
    const store = new FileStore(dir);
    await mkdir(path.join(dir, 'meetings'), { recursive: true });
    await mkdir(path.join(dir, 'networks'), { recursive: true });
    await mkdir(path.join(dir, 'sessions'), { recursive: true });
    await store.#replayJournal();
    await store.#load();
    await store.#migrateLegacy();
    return store;
  }

  // ── files ──────────────────────────────────────────────────────────────────────────────

  #fileOf(key: string): string {
    const [kind, name] = [key.slice(0, 1), key.slice(2)];
    return path.join(this.dir, kind === 'n' ? 'networks' : 'sessions', `${name}.json`);
  }

  #textOf(key: string): string {
    const data = key.startsWith('n:') ? this.#nets.get(key.slice(2)) : this.#shards.get(key.slice(2));
    if (!data) throw new Error(`nothing to write for ${key}`);
    data.txn = this.#txn;
    return JSON.stringify(data);
  }

  async #replayJournal(): Promise<void> {
    const file = path.join(this.dir, 'journal.json');
    const journal = await readChecked(
      file,
      (d): d is Journal => isObject(d) && d.version === 2 && typeof d.txn === 'number' && Array.isArray(d.files),
    );
    if (!journal) return;
    for (const { file: rel, text } of journal.files) {
      const target = path.join(this.dir, rel);
      let current: unknown = null;
      try {
        current = JSON.parse(await readFile(target, 'utf8'));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
      const txn = isObject(current) && typeof current.txn === 'number' ? current.txn : -1;
      if (txn < journal.txn) await writeFileDurably(target, text);
    }
    await rm(file, { force: true });
    await fsyncDir(this.dir);
  }

  async #load(): Promise<void> {
    for (const name of await readdir(path.join(this.dir, 'networks'))) {
      if (!name.endsWith('.json')) continue; // stale temp files of a crash mid-write
      const data = await readChecked(path.join(this.dir, 'networks', name), isNetworkFile);
      if (!data) continue;
      this.#nets.set(name.slice(0, -5), data);
      this.#txn = Math.max(this.#txn, data.txn);
    }
    for (const name of await readdir(path.join(this.dir, 'sessions'))) {
      if (!name.endsWith('.json')) continue;
      const data = await readChecked(path.join(this.dir, 'sessions', name), isSessionFile);
      if (!data) continue;
      this.#shards.set(name.slice(0, -5), data);
      this.#txn = Math.max(this.#txn, data.txn);
    }
    this.#reindex();
  }

  #reindex(): void {
    this.#meetingNet.clear();
    this.#byCode.clear();
    this.#participantNet.clear();
    this.#byToken.clear();
    for (const [key, net] of this.#nets) {
      for (const [id, m] of Object.entries(net.meetings)) {
        this.#meetingNet.set(id, key);
        if (m.codeHash) this.#byCode.set(m.codeHash, id);
      }
      for (const p of Object.values(net.participants)) {
        this.#participantNet.set(p.id, key);
        this.#indexToken(p);
      }
    }
  }

  /** Split an old single db.json into the per-network layout, then remove it. */
  async #migrateLegacy(): Promise<void> {
    const file = path.join(this.dir, 'db.json');
    const legacy = await readChecked(file, isLegacy);
    if (!legacy) return;
    this.#nets.clear();
    this.#shards.clear();
    const netOf = (networkId: string) => {
      let n = this.#nets.get(networkId);
      if (!n) {
        n = {
          version: 2,
          txn: 0,
          network: get(legacy.networks, networkId) ?? null,
          meetings: {},
          participants: {},
          access: [],
        };
        this.#nets.set(networkId, n);
      }
      return n;
    };
    for (const n of Object.values(legacy.networks)) netOf(n.id);
    const meetingKey = (meetingId: string) => {
      const m = get(legacy.meetings, meetingId);
      return m ? m.networkId : ORPHANS;
    };
    for (const m of Object.values(legacy.meetings)) netOf(m.networkId).meetings[m.id] = m;
    for (const p of Object.values(legacy.participants)) netOf(meetingKey(p.meetingId)).participants[p.id] = p;
    for (const e of legacy.access) netOf(meetingKey(e.meetingId)).access.push(e);
    for (const s of Object.values(legacy.sessions)) this.#shard(s.hash).sessions[s.hash] = s;
    this.#reindex();
    this.#txn += 1;
    const keys = [...[...this.#nets.keys()].map((k) => `n:${k}`), ...[...this.#shards.keys()].map((k) => `s:${k}`)];
    for (const key of keys) await writeFileDurably(this.#fileOf(key), this.#textOf(key));
    // Only now is the old file redundant. (It holds names: it must not linger after an erasure.)
    await rm(file, { force: true });
    await rm(`${file}.tmp`, { force: true });
    await fsyncDir(this.dir);
  }

  #shard(sessionHash: string): SessionFile {
    const key = shardOf(sessionHash);
    let s = this.#shards.get(key);
    if (!s) this.#shards.set(key, (s = { version: 2, txn: 0, sessions: {} }));
    return s;
  }

  // ── transactions ───────────────────────────────────────────────────────────────────────

  async transaction(write: (tx: RecordWriter) => void): Promise<void> {
    const ops: Array<(undo: Undo[], dirty: Set<string>) => void> = [];
    write({
      createMeeting: (n, m, ps) => ops.push((u, d) => this.#createMeeting(u, d, n, m, ps)),
      updateMeeting: (id, patch) => ops.push((u, d) => this.#updateMeeting(u, d, id, patch)),
      updateNetwork: (id, patch) => ops.push((u, d) => this.#updateNetwork(u, d, id, patch)),
      addParticipant: (p) => ops.push((u, d) => this.#addParticipant(u, d, p)),
      updateParticipant: (id, patch) => ops.push((u, d) => this.#updateParticipant(u, d, id, patch)),
      addToSession: (hash, member, at) => ops.push((u, d) => this.#addToSession(u, d, hash, member, at)),
      removeFromSession: (hash, member) => ops.push((u, d) => this.#removeFromSession(u, d, hash, member)),
      logAccess: (entry) => ops.push((u, d) => this.#logAccess(u, d, entry)),
    });
    if (ops.length === 0) return;
    const undo: Undo[] = [];
    const dirty = new Set<string>();
    try {
      for (const op of ops) op(undo, dirty);
    } catch (e) {
      for (const u of undo.reverse()) u();
      throw e;
    }
    for (const key of dirty) this.#dirty.add(key);
    await new Promise<void>((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
      this.#flushing ??= this.#flush();
    });
  }

  /** Group commit: write every dirty file, as one commit, until nothing is dirty. */
  async #flush(): Promise<void> {
    try {
      while (this.#waiters.length) {
        const keys = [...this.#dirty];
        const waiters = this.#waiters;
        this.#dirty = new Set();
        this.#waiters = [];
        this.#txn += 1;
        // Serialised now, in one synchronous step: a transaction applied while these are written
        // goes to the next flush, whole.
        const files = keys.map((key) => ({ key, file: this.#fileOf(key), text: this.#textOf(key) }));
        try {
          const journal = path.join(this.dir, 'journal.json');
          if (files.length > 1) {
            const body: Journal = {
              version: 2,
              txn: this.#txn,
              files: files.map((f) => ({ file: path.relative(this.dir, f.file), text: f.text })),
            };
            await writeFileDurably(journal, JSON.stringify(body));
          }
          await Promise.all(files.map((f) => writeFileDurably(f.file, f.text)));
          if (files.length > 1) await rm(journal, { force: true });
          for (const w of waiters) w.resolve();
        } catch (e) {
          // Memory is ahead of the disk: those files stay dirty, so the next flush writes them.
          for (const f of files) this.#dirty.add(f.key);
          for (const w of waiters) w.reject(e);
        }
      }
    } finally {
      this.#flushing = null;
    }
  }

  #net(networkId: string, what = 'network'): NetworkFile {
    const n = this.#nets.get(networkId);
    if (!n || !n.network) throw new Error(`no such ${what}`);
    return n;
  }

  #netOfMeeting(meetingId: string): { key: string; net: NetworkFile; meeting: MeetingRecord } {
    const key = this.#meetingNet.get(meetingId);
    const net = key === undefined ? undefined : this.#nets.get(key);
    const meeting = net && get(net.meetings, meetingId);
    if (!key || !net || !meeting) throw new Error('no such meeting');
    return { key, net, meeting };
  }

  #createMeeting(
    undo: Undo[],
    dirty: Set<string>,
    network: NetworkRecord | null,
    meeting: MeetingRecord,
    participants: readonly ParticipantRecord[],
  ): void {
    if (network) {
      if (this.#nets.has(network.id)) throw new Error('network exists');
      this.#nets.set(network.id, {
        version: 2,
        txn: 0,
        network: copy(network),
        meetings: {},
        participants: {},
        access: [],
      });
      undo.push(() => this.#nets.delete(network.id));
    }
    const net = this.#net(meeting.networkId);
    if (this.#meetingNet.has(meeting.id)) throw new Error('meeting exists');
    if (meeting.codeHash && this.#byCode.has(meeting.codeHash)) throw new Error('short code taken');
    net.meetings[meeting.id] = copy(meeting);
    this.#meetingNet.set(meeting.id, meeting.networkId);
    if (meeting.codeHash) this.#byCode.set(meeting.codeHash, meeting.id);
    undo.push(() => {
      delete net.meetings[meeting.id];
      this.#meetingNet.delete(meeting.id);
      if (meeting.codeHash) this.#byCode.delete(meeting.codeHash);
    });
    dirty.add(`n:${meeting.networkId}`);
    for (const p of participants) this.#addParticipant(undo, dirty, p);
  }

  #updateMeeting(undo: Undo[], dirty: Set<string>, id: string, patch: MeetingPatch): void {
    const { key, meeting } = this.#netOfMeeting(id);
    const before = copy(meeting);
    Object.assign(meeting, copy(patch));
    undo.push(() => {
      for (const k of Object.keys(meeting)) delete (meeting as unknown as Record<string, unknown>)[k];
      Object.assign(meeting, before);
    });
    dirty.add(`n:${key}`);
  }

  #updateNetwork(undo: Undo[], dirty: Set<string>, id: string, patch: NetworkPatch): void {
    const net = this.#net(id);
    const n = net.network!;
    const before = copy(n);
    Object.assign(n, copy(patch));
    undo.push(() => {
      net.network = before;
    });
    dirty.add(`n:${id}`);
  }

  #indexToken(p: ParticipantRecord): void {
    let ids = this.#byToken.get(p.tokenHash);
    if (!ids) this.#byToken.set(p.tokenHash, (ids = new Set()));
    ids.add(p.id);
  }

  #unindexToken(p: ParticipantRecord): void {
    const ids = this.#byToken.get(p.tokenHash);
    ids?.delete(p.id);
    if (ids?.size === 0) this.#byToken.delete(p.tokenHash);
  }

  #uniqueInMeeting(meetingId: string, hash: string): void {
    for (const id of this.#byToken.get(hash) ?? []) {
      if (this.#participantRecord(id)?.meetingId === meetingId) throw new Error('personal link in use');
    }
  }

  #participantRecord(id: string): ParticipantRecord | undefined {
    const key = this.#participantNet.get(id);
    const net = key === undefined ? undefined : this.#nets.get(key);
    return net && get(net.participants, id);
  }

  #addParticipant(undo: Undo[], dirty: Set<string>, p: ParticipantRecord): void {
    const { key, net } = this.#netOfMeeting(p.meetingId);
    if (this.#participantNet.has(p.id)) throw new Error('participant exists');
    this.#uniqueInMeeting(p.meetingId, p.tokenHash);
    const rec = copy(p);
    net.participants[p.id] = rec;
    this.#participantNet.set(p.id, key);
    this.#indexToken(rec);
    undo.push(() => {
      delete net.participants[p.id];
      this.#participantNet.delete(p.id);
      this.#unindexToken(rec);
    });
    dirty.add(`n:${key}`);
  }

  #updateParticipant(undo: Undo[], dirty: Set<string>, id: string, patch: ParticipantPatch): void {
    const key = this.#participantNet.get(id);
    const net = key === undefined ? undefined : this.#nets.get(key);
    const p = net && get(net.participants, id);
    if (!key || !net || !p) throw new Error('no such participant');
    if (patch.tokenHash !== undefined && patch.tokenHash !== p.tokenHash) {
      this.#uniqueInMeeting(p.meetingId, patch.tokenHash);
    }
    const before = copy(p);
    this.#unindexToken(p);
    Object.assign(p, copy(patch));
    this.#indexToken(p);
    undo.push(() => {
      this.#unindexToken(p);
      net.participants[id] = before;
      this.#indexToken(before);
    });
    dirty.add(`n:${key}`);
  }

  #addToSession(undo: Undo[], dirty: Set<string>, hash: string, memberHash: string, at: number): void {
    const shard = this.#shard(hash);
    const s = get(shard.sessions, hash);
    if (s) {
      if (s.members.includes(memberHash)) return;
      s.members.push(memberHash);
      undo.push(() => void s.members.pop());
    } else {
      shard.sessions[hash] = { hash, members: [memberHash], createdAt: at };
      undo.push(() => delete shard.sessions[hash]);
    }
    dirty.add(`s:${shardOf(hash)}`);
  }

  #removeFromSession(undo: Undo[], dirty: Set<string>, hash: string, memberHash: string): void {
    const shard = this.#shard(hash);
    const s = get(shard.sessions, hash);
    if (!s || !s.members.includes(memberHash)) return;
    const before = s.members;
    s.members = s.members.filter((m) => m !== memberHash);
    undo.push(() => {
      s.members = before;
    });
    dirty.add(`s:${shardOf(hash)}`);
  }

  #logAccess(undo: Undo[], dirty: Set<string>, entry: AccessEntry): void {
    const { key, net } = this.#netOfMeeting(entry.meetingId);
    if (!this.#participantRecord(entry.participantId)) throw new Error('no such participant');
    net.access.push(copy(entry));
    undo.push(() => void net.access.pop());
    dirty.add(`n:${key}`);
  }

  // ── reads ──────────────────────────────────────────────────────────────────────────────

  async network(id: string): Promise<NetworkRecord | undefined> {
    const n = this.#nets.get(id);
    return n?.network && id !== ORPHANS ? copy(n.network) : undefined;
  }

  async meetingsOfNetwork(networkId: string): Promise<MeetingRecord[]> {
    const n = this.#nets.get(networkId);
    if (!n || networkId === ORPHANS) return [];
    return copy(Object.values(n.meetings).sort((a, b) => a.openedAt - b.openedAt));
  }

  async meeting(id: string): Promise<MeetingRecord | undefined> {
    const key = this.#meetingNet.get(id);
    const n = key === undefined ? undefined : this.#nets.get(key);
    return copy(n && get(n.meetings, id));
  }

  async meetingByCode(codeHash: string): Promise<MeetingRecord | undefined> {
    const id = this.#byCode.get(codeHash);
    return id === undefined ? undefined : this.meeting(id);
  }

  async participant(id: string): Promise<ParticipantRecord | undefined> {
    return copy(this.#participantRecord(id));
  }

  async participantsByTokenHash(hash: string): Promise<ParticipantRecord[]> {
    const out: ParticipantRecord[] = [];
    for (const id of this.#byToken.get(hash) ?? []) {
      const p = this.#participantRecord(id);
      if (p) out.push(copy(p));
    }
    return out;
  }

  async participants(meetingId: string): Promise<ParticipantRecord[]> {
    const key = this.#meetingNet.get(meetingId);
    const n = key === undefined ? undefined : this.#nets.get(key);
    if (!n) return [];
    return copy(Object.values(n.participants).filter((p) => p.meetingId === meetingId));
  }

  async session(hash: string): Promise<SessionRecord | undefined> {
    const shard = this.#shards.get(shardOf(hash));
    return copy(shard && get(shard.sessions, hash));
  }

  async accessLog(meetingId: string): Promise<AccessEntry[]> {
    const key = this.#meetingNet.get(meetingId);
    const n = key === undefined ? undefined : this.#nets.get(key);
    if (!n) return [];
    return copy(n.access.filter((e) => e.meetingId === meetingId));
  }

  // ── update logs ────────────────────────────────────────────────────────────────────────

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

  async removeUpdates(meetingId: string): Promise<void> {
    await this.#log(meetingId).remove();
    this.#logs.delete(meetingId);
  }

  /**
   * Read every meeting's log once (one at a time) and name those that cannot be read back, each
   * copied aside for recovery as a load would: for /readyz, without anyone opening the meeting.
   */
  async scanLogs(): Promise<Array<{ meetingId: string; error: DamagedError }>> {
    const out: Array<{ meetingId: string; error: DamagedError }> = [];
    for (const meetingId of await this.meetingIdsWithUpdates()) {
      const file = path.join(this.dir, 'meetings', `${meetingId}.ylog`);
      try {
        decodeRecords(await readFile(file), file);
      } catch (e) {
        if (!(e instanceof DamagedError)) continue;
        await keepForRecovery(e.file);
        out.push({ meetingId, error: e });
      }
    }
    return out;
  }

  /** Every meeting id with an update log on disk (for copying a store elsewhere). */
  async meetingIdsWithUpdates(): Promise<string[]> {
    const names = await readdir(path.join(this.dir, 'meetings'));
    return names.filter((n) => n.endsWith('.ylog') && isId(n.slice(0, -5))).map((n) => n.slice(0, -5));
  }

  /** Every record, for copying a store elsewhere (scripts/migrate-store.ts). */
  async everything(): Promise<{
    networks: NetworkRecord[];
    meetings: MeetingRecord[];
    participants: ParticipantRecord[];
    sessions: SessionRecord[];
    access: AccessEntry[];
  }> {
    const nets = [...this.#nets.entries()].filter(([k]) => k !== ORPHANS).map(([, n]) => n);
    return copy({
      networks: nets.flatMap((n) => (n.network ? [n.network] : [])),
      meetings: nets.flatMap((n) => Object.values(n.meetings)),
      participants: nets.flatMap((n) => Object.values(n.participants)),
      sessions: [...this.#shards.values()].flatMap((s) => Object.values(s.sessions)),
      access: nets.flatMap((n) => n.access),
    });
  }

  async close(): Promise<void> {
    await this.#flushing?.catch(() => undefined);
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
