/**
 * One meeting in memory: its documents, who is connected, and its persistence.
 *
 * - The meeting document is written only by the server (origin `server`).
 * - Each voice document is written only through `receive` by its owner's connections, after
 *   `checkVoiceUpdate`; the update is then applied whole.
 * - Every applied update is queued for the store (group commit: one write and one fsync for all
 *   updates that arrive while the previous flush runs), and "saved" is sent to the owner only
 *   after the store has made it durable. A failed flush keeps everything in memory and retries.
 */
import * as Y from 'yjs';
import { MEETING_DOC } from '../../shared/ids.js';
import { LIMITS } from '../../shared/limits.js';
import { Refusal, type StorageStatus } from '../../shared/protocol.js';
import {
  MEETING_EVENTS,
  MEETING_ORDER,
  MEETING_PEOPLE,
  MEETING_STATE,
  VOICE_LOG,
  type MeetingEvent,
  type MeetingState,
  type OrderMark,
  type Person,
  type Phase,
  type VoiceEntry,
} from '../../shared/record.js';
import { randomId } from '../../shared/ids.js';
import {
  awarenessMessage,
  decodeAwareness,
  decodeYMessage,
  isPresenceState,
  syncStep1,
  syncStep2,
  syncUpdate,
  type AwarenessEntry,
} from '../../shared/wire.js';
import type { Clock, Log } from '../context.js';
import type { DocUpdate, MeetingRecord, ParticipantRecord, Store } from '../store/types.js';
import { carriesNothingNew, checkVoiceUpdate, type Problem } from './validate.js';

/** Who made a Yjs transaction: persistence and broadcast never echo or re-save by accident. */
export type Origin =
  | { readonly kind: 'connection'; readonly socketId: string; readonly participantId: string }
  | { readonly kind: 'store' }
  | { readonly kind: 'server' };

const STORE: Origin = { kind: 'store' };
const SERVER: Origin = { kind: 'server' };

/** How a meeting talks to its connections (implemented over Socket.IO by live/). */
export interface MeetingPort {
  broadcast(doc: string, message: Uint8Array, exceptSocket?: string): void;
  /** Several messages to every connection, in one frame each. */
  broadcastAll(messages: ReadonlyArray<readonly [string, Uint8Array]>): void;
  presence(here: string[]): void;
  saved(participantId: string, doc: string, stateVector: Uint8Array): void;
  storage(status: StorageStatus): void;
  erased(doc: string): void;
  /** Disconnect every connection of the meeting. */
  closeAll(): void;
}

export type Received = { ok: true; reply?: Uint8Array } | { ok: false; problem: Problem };

/** Logs longer than this many records are compacted into one record per document on load. */
const COMPACT_AFTER = 500;
const RETRY_MS = [200, 500, 1000, 2000, 5000];

interface AwarenessHolder {
  doc: string;
  socketId: string;
  entry: AwarenessEntry;
}

export class Meeting {
  readonly meetingDoc = new Y.Doc();
  readonly #voices = new Map<string, Y.Doc>();
  readonly #connections = new Map<string, string>();
  readonly #awareness = new Map<number, AwarenessHolder>();
  readonly #durable = new Map<string, Uint8Array>();
  readonly #docBytes = new Map<string, number>();
  /** Which participant each Yjs client id belongs to: the one in whose voice it first appeared. */
  readonly #clientOwner = new Map<number, string>();
  /** Voices erased at their owner's request: they take no more writes. */
  readonly #erased = new Set<string>();
  #pending: DocUpdate[] = [];
  #flushing: Promise<void> | null = null;
  #failures = 0;
  #retryTimer: NodeJS.Timeout | null = null;
  /** While one incoming message is handled: what it makes the server share, sent as one frame. */
  #outbox: Array<[string, Uint8Array]> | null = null;
  #closed = false;
  #ready = false;
  #idleWaiters: Array<() => void> = [];

  private constructor(
    readonly id: string,
    readonly record: MeetingRecord,
    readonly store: Store,
    readonly port: MeetingPort,
    readonly clock: Clock,
    readonly log: Log,
    readonly flushWindowMs: number,
  ) {}

  static async load(
    record: MeetingRecord,
    participants: readonly ParticipantRecord[],
    context: MeetingContext,
    deps: { store: Store; port: MeetingPort; clock: Clock; log: Log; flushWindowMs: number },
  ): Promise<Meeting> {
    const m = new Meeting(record.id, record, deps.store, deps.port, deps.clock, deps.log, deps.flushWindowMs);
    const updates = await deps.store.loadUpdates(record.id);
    const byDoc = new Map<string, Uint8Array[]>();
    for (const u of updates) {
      const list = byDoc.get(u.doc) ?? [];
      list.push(u.update);
      byDoc.set(u.doc, list);
    }
    for (const [doc, list] of byDoc) {
      const target = doc === MEETING_DOC ? m.meetingDoc : m.#voice(doc, true);
      if (!target) continue;
      Y.applyUpdate(target, list.length === 1 ? list[0]! : Y.mergeUpdates(list), STORE);
    }
    for (const p of participants) {
      if (p.erased) {
        m.#voices.get(p.id)?.destroy();
        m.#voices.delete(p.id);
        m.#erased.add(p.id);
      } else m.#voice(p.id, true);
    }
    for (const [id, doc] of m.#voices) {
      m.#docBytes.set(id, Y.encodeStateAsUpdate(doc).length);
      for (const client of doc.store.clients.keys()) if (!m.#clientOwner.has(client)) m.#clientOwner.set(client, id);
    }
    m.#wire(m.meetingDoc, MEETING_DOC);
    for (const [id, doc] of m.#voices) m.#wire(doc, id);
    m.#reconcile(participants);
    m.setContext(context);
    if (updates.length > COMPACT_AFTER) await m.#compact();
    for (const [id, doc] of [[MEETING_DOC, m.meetingDoc] as const, ...m.#voices]) {
      m.#durable.set(id, Y.encodeStateVector(doc));
    }
    m.#ready = true;
    return m;
  }

  // ── people and documents ─────────────────────────────────────────────────────────────

  get people(): Y.Map<Person> {
    return this.meetingDoc.getMap<Person>(MEETING_PEOPLE);
  }

  get order(): Y.Array<OrderMark> {
    return this.meetingDoc.getArray<OrderMark>(MEETING_ORDER);
  }

  /** The voice document of a participant (created empty for a new participant when `create`). */
  #voice(id: string, create = false): Y.Doc | undefined {
    let doc = this.#voices.get(id);
    if (!doc && create) {
      // Garbage collection on: nothing deletes from a voice but an erasure (below), whose words
      // must then be gone from memory and from what is written back to disk.
      doc = new Y.Doc();
      this.#voices.set(id, doc);
      if (this.#ready) {
        this.#docBytes.set(id, 0);
        this.#durable.set(id, Y.encodeStateVector(doc));
        this.#wire(doc, id);
      }
    }
    return doc;
  }

  voiceDocs(): ReadonlyMap<string, Y.Doc> {
    return this.#voices;
  }

  #doc(id: string): Y.Doc | undefined {
    return id === MEETING_DOC ? this.meetingDoc : this.#voices.get(id);
  }

  /** A participant joined (or changed how they describe themselves). Written by the server. */
  setPerson(p: ParticipantRecord): void {
    this.#voice(p.id, true);
    const person: Person = { name: p.name, relation: p.relation, aboutMe: p.aboutMe, joinedAt: p.joinedAt };
    if (p.addedBy) person.addedBy = p.addedBy;
    if (p.revoked && p.removed) person.removed = true;
    if (p.erased) Object.assign(person, { name: '', relation: '', erased: true });
    const current = this.people.get(p.id);
    if (current && JSON.stringify(current) === JSON.stringify(person)) return;
    this.meetingDoc.transact(() => this.people.set(p.id, person), SERVER);
  }

  #reconcile(participants: readonly ParticipantRecord[]): void {
    const state = this.meetingDoc.getMap<unknown>(MEETING_STATE);
    this.meetingDoc.transact(() => {
      const want: Pick<MeetingState, 'openedAt' | 'status' | 'locked'> = {
        openedAt: this.record.openedAt,
        status: this.record.status,
        locked: this.record.locked,
      };
      for (const [k, val] of Object.entries(want)) if (state.get(k) !== val) state.set(k, val);
      if (JSON.stringify(state.get('facilitators')) !== JSON.stringify(this.record.facilitators)) {
        state.set('facilitators', [...this.record.facilitators]);
      }
      if (!state.has('phase')) state.set('phase', 'open' satisfies Phase);
    }, SERVER);
    for (const p of participants) this.setPerson(p);
    // Entries that reached the store without their order mark (a crash between the two) get one now.
    const marked = new Set(this.order.toArray().map((mk) => `${mk.v}/${mk.id}`));
    const missing: OrderMark[] = [];
    for (const [v, doc] of this.#voices) {
      for (const entry of doc.getArray<{ id: string }>(VOICE_LOG).toArray()) {
        if (!marked.has(`${v}/${entry.id}`)) missing.push({ v, id: entry.id, at: this.clock.now() });
      }
    }
    if (missing.length > 0) this.meetingDoc.transact(() => this.order.push(missing), SERVER);
  }

  /** Where this meeting stands in its network's series. */
  setContext(context: MeetingContext): void {
    const state = this.meetingDoc.getMap<unknown>(MEETING_STATE);
    this.meetingDoc.transact(() => {
      for (const [k, val] of Object.entries(context)) {
        if (JSON.stringify(state.get(k)) !== JSON.stringify(val)) state.set(k, val);
      }
    }, SERVER);
  }

  /** Everything the record is made of, as plain data (exports, erasure). */
  snapshot(): RecordSnapshot {
    const voices = new Map<string, unknown[]>();
    for (const [id, doc] of this.#voices) voices.set(id, doc.getArray<unknown>(VOICE_LOG).toArray());
    return {
      people: new Map(this.people.entries()),
      state: this.meetingDoc.getMap<unknown>(MEETING_STATE).toJSON() as MeetingState,
      order: this.order.toArray(),
      events: this.meetingDoc.getArray<MeetingEvent>(MEETING_EVENTS).toArray(),
      voices,
    };
  }

  get phase(): Phase {
    return (this.meetingDoc.getMap<unknown>(MEETING_STATE).get('phase') as Phase | undefined) ?? 'open';
  }

  /** Change the meeting's state and record what happened, in one update everyone receives. */
  act(
    by: string,
    event: DistributiveOmit<MeetingEvent, 'id' | 'at' | 'seq' | 'by'> | null,
    patch: Partial<Pick<MeetingState, 'status' | 'locked' | 'facilitators' | 'phase'>> = {},
  ): void {
    if (patch.status !== undefined) this.record.status = patch.status;
    if (patch.locked !== undefined) this.record.locked = patch.locked;
    if (patch.facilitators !== undefined) this.record.facilitators = [...patch.facilitators];
    const state = this.meetingDoc.getMap<unknown>(MEETING_STATE);
    this.meetingDoc.transact(() => {
      for (const [k, val] of Object.entries(patch)) state.set(k, val);
      if (event) {
        const full = { ...event, id: randomId(), at: this.clock.now(), seq: this.order.length, by } as MeetingEvent;
        this.meetingDoc.getArray<MeetingEvent>(MEETING_EVENTS).push([full]);
      }
    }, SERVER);
  }

  /** Mark a person removed (their words stay) or otherwise change what everyone sees of them. */
  markPerson(id: string, patch: Partial<Person>): void {
    const current = this.people.get(id);
    if (!current) return;
    this.meetingDoc.transact(() => this.people.set(id, { ...current, ...patch }), SERVER);
  }

  // ── wiring: persistence, broadcast, order ────────────────────────────────────────────

  #wire(doc: Y.Doc, id: string): void {
    doc.on('update', (update: Uint8Array, origin: Origin) => {
      if (origin === STORE) return;
      this.#enqueue({ doc: id, update });
      // Shared at once, so the meeting stays live even while the disk is failing. A voice's writer
      // keeps its words until told they are saved and sends them again after a crash; a device
      // holding meeting state that a crash took back drops it on reconnecting (see greeting()).
      if (this.#outbox) this.#outbox.push([id, syncUpdate(update)]);
      else this.port.broadcast(id, syncUpdate(update), origin?.kind === 'connection' ? origin.socketId : undefined);
    });
  }

  /** Note when the server first received these entries: their place in the record's order. */
  #mark(voice: string, entries: readonly VoiceEntry[]): void {
    if (entries.length === 0) return;
    const at = this.clock.now();
    const marks = entries.map((entry) => ({ v: voice, id: entry.id, at }));
    this.meetingDoc.transact(() => this.order.push(marks), SERVER);
  }

  // ── connections ──────────────────────────────────────────────────────────────────────

  connect(socketId: string, participantId: string): void {
    this.#voice(participantId, true);
    this.#connections.set(socketId, participantId);
    this.port.presence(this.here());
  }

  disconnect(socketId: string): void {
    for (const [clientID, h] of this.#awareness) {
      if (h.socketId !== socketId) continue;
      this.#awareness.delete(clientID);
      this.port.broadcast(h.doc, awarenessMessage([{ clientID, clock: h.entry.clock + 1, state: null }]));
    }
    this.#connections.delete(socketId);
    this.port.presence(this.here());
  }

  here(): string[] {
    return [...new Set(this.#connections.values())];
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  /** Messages for a new connection: a sync request for its own voice, and who is writing now. */
  greeting(participantId: string): Array<[string, Uint8Array]> {
    const out: Array<[string, Uint8Array]> = [];
    const own = this.#voice(participantId, true)!;
    out.push([participantId, syncStep1(own)]);
    // The meeting document's state vector: a device holding more than this (from before a crash)
    // drops its copy and syncs afresh.
    out.push([MEETING_DOC, syncStep1(this.meetingDoc)]);
    const byDoc = new Map<string, AwarenessEntry[]>();
    for (const h of this.#awareness.values()) {
      const list = byDoc.get(h.doc) ?? [];
      list.push(h.entry);
      byDoc.set(h.doc, list);
    }
    for (const [doc, entries] of byDoc) out.push([doc, awarenessMessage(entries)]);
    return out;
  }

  /** The durably stored state vector of a document. */
  durableStateVector(doc: string): Uint8Array | undefined {
    return this.#durable.get(doc);
  }

  /** Handle one y-protocols message from a connection. Never throws for bad input. */
  receive(socketId: string, participantId: string, docId: string, bytes: Uint8Array): Received {
    const doc = this.#doc(docId);
    if (!doc) return refuse(Refusal.unknownDocument, 'There is no such document in this meeting.');
    if (bytes.length > LIMITS.messageBytes) return refuse(Refusal.tooLarge, 'The message is too large.');
    let msg: ReturnType<typeof decodeYMessage>;
    try {
      msg = decodeYMessage(bytes);
    } catch {
      return refuse(Refusal.malformed, 'The message could not be decoded.');
    }
    switch (msg.kind) {
      case 'step1': {
        try {
          return { ok: true, reply: syncStep2(doc, msg.stateVector) };
        } catch {
          return refuse(Refusal.malformed, 'The state vector could not be decoded.');
        }
      }
      case 'step2':
      case 'update': {
        // A device's answer to the server's sync step 1 that holds nothing new changes nothing:
        // accepted as a no-op for any document, so a stock y-protocols client just works (SPEC 1, 2).
        if (carriesNothingNew(doc, msg.update)) return { ok: true };
        if (docId !== participantId) {
          return refuse(
            Refusal.notYourDocument,
            'You can only write your own words. This document belongs to someone else.',
          );
        }
        if (this.record.status !== 'open')
          return refuse(Refusal.meetingEnded, 'This meeting has ended; its record can no longer change.');
        if (this.#erased.has(docId))
          return refuse(Refusal.erased, 'Your words in this meeting were erased at your request.');
        const size = (this.#docBytes.get(docId) ?? 0) + msg.update.length;
        if (size > LIMITS.documentBytes)
          return refuse(Refusal.tooLarge, 'Your record in this meeting has reached its size limit.');
        const checked = checkVoiceUpdate(doc, msg.update, (client) => this.#mayUse(client, participantId));
        if (checked.problem) return { ok: false, problem: checked.problem };
        // The update and its order marks go to everyone in one frame (the writer included: Yjs
        // ignores what it already has, and the writer needs the marks).
        this.#outbox = [];
        try {
          Y.applyUpdate(doc, msg.update, { kind: 'connection', socketId, participantId } satisfies Origin);
          for (const client of checked.clients)
            if (!this.#clientOwner.has(client)) this.#clientOwner.set(client, participantId);
          this.#mark(docId, checked.fresh);
        } finally {
          const out = this.#outbox;
          this.#outbox = null;
          if (out.length > 0) this.port.broadcastAll(out);
        }
        this.#docBytes.set(docId, size);
        return { ok: true };
      }
      case 'awareness':
        return this.#receiveAwareness(socketId, participantId, docId, msg.update);
    }
  }

  #receiveAwareness(socketId: string, participantId: string, docId: string, update: Uint8Array): Received {
    if (docId !== participantId) {
      return refuse(Refusal.notYourAwareness, 'You can only say whether you yourself are writing.');
    }
    let entries: AwarenessEntry[];
    if (update.length > LIMITS.awarenessBytes * 4)
      return refuse(Refusal.tooLarge, 'The awareness update is too large.');
    try {
      entries = decodeAwareness(update);
    } catch {
      return refuse(Refusal.malformed, 'The awareness update could not be decoded.');
    }
    for (const e of entries) {
      if (!this.#mayUse(e.clientID, participantId)) {
        return refuse(Refusal.notYourAwareness, 'That awareness client id belongs to someone else.');
      }
      if (!isPresenceState(e.state) || JSON.stringify(e.state).length > LIMITS.awarenessBytes) {
        return refuse(
          Refusal.invalid,
          'An awareness state may only say whether you are writing: {"typing": true|false}.',
        );
      }
    }
    for (const e of entries) {
      this.#clientOwner.set(e.clientID, participantId);
      const holder = this.#awareness.get(e.clientID);
      if (holder && e.clock <= holder.entry.clock) continue;
      if (e.state === null) this.#awareness.delete(e.clientID);
      else this.#awareness.set(e.clientID, { doc: docId, socketId, entry: e });
    }
    // Relay what was checked, re-encoded: never the sender's raw bytes.
    this.port.broadcast(docId, awarenessMessage(entries), socketId);
    return { ok: true };
  }

  readonly #opened = new Map<string, number>();
  /** Whether this participant's opening of the (ended) record is new enough to log. */
  firstOpening(participantId: string): boolean {
    const now = this.clock.now();
    const last = this.#opened.get(participantId);
    if (last !== undefined && now - last < 30 * 60_000) return false;
    this.#opened.set(participantId, now);
    return true;
  }

  #mayUse(client: number, participantId: string): boolean {
    const owner = this.#clientOwner.get(client);
    return owner === undefined || owner === participantId;
  }

  // ── persistence ──────────────────────────────────────────────────────────────────────

  #enqueue(u: DocUpdate): void {
    this.#pending.push(u);
    this.#scheduleFlush();
  }

  #scheduleFlush(): void {
    if (this.#flushing || this.#retryTimer) return;
    this.#flushing = new Promise<void>((resolve) => {
      const run = () => void this.#flush().finally(resolve);
      if (this.flushWindowMs > 0) setTimeout(run, this.flushWindowMs);
      else setImmediate(run);
    }).then(() => {
      this.#flushing = null;
      if (this.#pending.length > 0) this.#scheduleFlush();
      else if (!this.#retryTimer) this.#notifyIdle();
    });
  }

  async #flush(): Promise<void> {
    const batch = this.#pending;
    if (batch.length === 0) return;
    this.#pending = [];
    const docs = new Set(batch.map((u) => u.doc));
    const svs = new Map<string, Uint8Array>();
    for (const d of docs) {
      const doc = this.#doc(d);
      if (doc) svs.set(d, Y.encodeStateVector(doc));
    }
    try {
      await this.store.appendUpdates(this.id, batch);
    } catch (e) {
      this.#pending = batch.concat(this.#pending);
      const delay = RETRY_MS[Math.min(this.#failures, RETRY_MS.length - 1)]!;
      if (this.#failures === 0) {
        this.log.error(
          { meeting: this.id, err: (e as Error).message },
          'storage failed; keeping edits in memory and retrying',
        );
        this.port.storage('failing');
      }
      this.#failures++;
      if (!this.#closed) {
        this.#retryTimer = setTimeout(() => {
          this.#retryTimer = null;
          this.#scheduleFlush();
        }, delay);
      }
      return;
    }
    if (this.#failures > 0) {
      this.#failures = 0;
      this.log.info({ meeting: this.id }, 'storage recovered');
      this.port.storage('ok');
    }
    for (const [d, sv] of svs) {
      this.#durable.set(d, sv);
      if (d !== MEETING_DOC) this.port.saved(d, d, sv);
    }
  }

  get storageFailing(): boolean {
    return this.#failures > 0;
  }

  get idle(): boolean {
    return this.#connections.size === 0 && this.#pending.length === 0 && !this.#flushing && !this.#retryTimer;
  }

  /** Resolves once everything applied so far is durably stored (waits through retries). */
  async flushed(): Promise<void> {
    while (!this.#closed && (this.#pending.length > 0 || this.#flushing || this.#retryTimer)) {
      await new Promise<void>((r) => this.#idleWaiters.push(r));
    }
  }

  #notifyIdle(): void {
    const w = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const r of w) r();
  }

  async #compact(): Promise<void> {
    const all: DocUpdate[] = [{ doc: MEETING_DOC, update: Y.encodeStateAsUpdate(this.meetingDoc) }];
    for (const [id, doc] of this.#voices) all.push({ doc: id, update: Y.encodeStateAsUpdate(doc) });
    await this.store.compact(this.id, all);
    for (const u of all) this.#durable.set(u.doc, Y.encodeStateVectorFromUpdate(u.update));
  }

  /**
   * Erase one voice: its document leaves memory, its name leaves the meeting document, and the
   * meeting's log is rewritten without either (old bytes are not kept anywhere by Polyphony).
   */
  async eraseVoice(participantId: string): Promise<void> {
    await this.flushed();
    const doc = this.#voices.get(participantId);
    this.#voices.delete(participantId);
    this.#docBytes.delete(participantId);
    this.#durable.delete(participantId);
    this.#erased.add(participantId);
    doc?.destroy();
    const person = this.people.get(participantId);
    if (person) {
      this.meetingDoc.transact(
        () => this.people.set(participantId, { ...person, name: '', relation: '', erased: true }),
        SERVER,
      );
    }
    this.port.erased(participantId);
    // Their words written down by a scribe live in the scribe's voice: the server deletes those
    // entries (the one deletion ever made in a voice, on the speaker's request), and every
    // amendment of them, and every position recorded for them.
    for (const [owner, voice] of this.#voices) {
      const log = voice.getArray<VoiceEntry>(VOICE_LOG);
      const entries = log.toArray();
      const theirs = new Set(entries.filter((e) => e.t === 'say' && e.for === participantId).map((e) => e.id));
      const doomed: number[] = [];
      entries.forEach((e, i) => {
        const forThem =
          (e.t === 'say' && theirs.has(e.id)) ||
          ((e.t === 'amend' || e.t === 'withdraw') && theirs.has(e.of)) ||
          (e.t === 'position' && e.for === participantId);
        if (forThem) doomed.push(i);
      });
      if (doomed.length === 0) continue;
      voice.transact(() => {
        for (const i of doomed.reverse()) log.delete(i, 1);
      }, SERVER);
      this.#docBytes.set(owner, Y.encodeStateAsUpdate(voice).length);
    }
    await this.flushed();
    await this.#compact();
  }

  /** Flush and stop timers. Keeps nothing back: call `flushed()` first when the store works. */
  close(): void {
    this.#closed = true;
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    this.#notifyIdle();
    this.meetingDoc.destroy();
    for (const d of this.#voices.values()) d.destroy();
  }
}

export type MeetingContext = Pick<MeetingState, 'network' | 'previous' | 'next'>;

export interface RecordSnapshot {
  people: Map<string, Person>;
  state: MeetingState;
  order: OrderMark[];
  events: MeetingEvent[];
  voices: Map<string, unknown[]>;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

function refuse(code: Problem['code'], message: string): Received {
  return { ok: false, problem: { code, message } };
}
