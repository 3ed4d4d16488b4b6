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
import type { CloseReasonCode } from '../../shared/errors.js';
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
  confirmedRef,
  ownTarget,
  readOrder,
  storedMark,
  voiceNumbers,
  writtenFor,
} from '../../shared/record.js';
import { randomId, refOf } from '../../shared/ids.js';
import { DocNames, decodeYMessage, syncStep1, syncStep2, syncUpdate, type DocTag } from '../../shared/wire.js';
import type { Clock, Log } from '../context.js';
import type { Metrics } from '../metrics.js';
import type { DocUpdate, MeetingRecord, ParticipantRecord, Store } from '../store/types.js';
import { carriesNothingNew, checkVoiceUpdate, type Problem } from './validate.js';
import { Presence } from './presence.js';
import { WriteQueue } from './writeQueue.js';

/** Who made a Yjs transaction: persistence and broadcast never echo or re-save by accident. */
export type Origin =
  | { readonly kind: 'connection'; readonly socketId: string; readonly participantId: string }
  | { readonly kind: 'store' }
  | { readonly kind: 'server' };

const STORE: Origin = { kind: 'store' };
const SERVER: Origin = { kind: 'server' };

/**
 * How a meeting talks to its connections (implemented over Socket.IO by live/). Documents are
 * named as on the wire (`DocTag`: a number, see `Meeting.tagOf`).
 */
export interface MeetingPort {
  broadcast(doc: DocTag, message: Uint8Array, exceptSocket?: string): void;
  /**
   * Several messages to every connection, in one frame. With `writer`: the connection whose update
   * to `writer.doc` caused them gets them without that document's messages (it has them).
   */
  broadcastAll(
    messages: ReadonlyArray<readonly [DocTag, Uint8Array]>,
    writer?: { readonly socketId: string; readonly doc: DocTag },
  ): void;
  /** A new voice: from now on, number `n` names document `id` on the wire. */
  voice(n: number, id: string): void;
  presence(here: string[]): void;
  saved(participantId: string, doc: string, stateVector: Uint8Array): void;
  storage(status: StorageStatus): void;
  erased(doc: string): void;
  /** Tell every connection of the meeting why, then disconnect it. */
  closeAll(reason: CloseReasonCode): void;
}

export type Received = { ok: true; reply?: readonly [DocTag, Uint8Array] } | { ok: false; problem: Problem };

/** The state vector of an empty document: what a device that holds nothing of it has. */
const EMPTY_STATE_VECTOR = new Uint8Array([0]);

/**
 * What every voice that holds nothing yet reads as: a voice's document is made only once its
 * person writes (or the store holds something of it), since most people of a meeting write little
 * or nothing and each Yjs document costs about 3 KB. Never written to.
 */
const NOTHING = new Y.Doc({ guid: 'nothing' });
const NOTHING_STEP1 = syncStep1(NOTHING);
const NOTHING_STEP2 = syncStep2(NOTHING);

/** Logs longer than this many records are compacted into one record per document on load. */
const COMPACT_AFTER = 500;

export class Meeting {
  // Each document is named (`guid`): Yjs would otherwise make a random UUID for it, which costs
  // about 100 µs per document (31 calls for random numbers), more than everything else a
  // document costs to create.
  readonly meetingDoc = new Y.Doc({ guid: MEETING_DOC });
  readonly #voices = new Map<string, Y.Doc>();
  readonly #presence: Presence;
  /** Each document's whole state as a sync step 2, for newcomers; dropped on every change. */
  readonly #whole = new Map<string, Uint8Array>();
  readonly #durable = new Map<string, Uint8Array>();
  readonly #docBytes = new Map<string, number>();
  /** Which participant each Yjs client id belongs to: the one in whose voice it first appeared. */
  readonly #clientOwner = new Map<number, string>();
  /** Voices erased at their owner's request: they take no more writes. */
  readonly #erased = new Set<string>();
  readonly #queue: WriteQueue;
  /** While one incoming message is handled: what it makes the server share, sent as one frame. */
  #outbox: Array<[DocTag, Uint8Array]> | null = null;
  /** Document number → id (0 is the meeting document; n the voice of the person numbered n). */
  readonly #names = new DocNames();
  #ready = false;

  private constructor(
    readonly id: string,
    readonly store: Store,
    readonly port: MeetingPort,
    readonly clock: Clock,
    readonly log: Log,
    flushWindowMs: number,
    readonly metrics?: Metrics,
    onLost?: () => void,
  ) {
    this.#presence = new Presence(
      {
        broadcast: (doc, message, exceptSocket) => port.broadcast(this.tagOf(doc), message, exceptSocket),
        presence: (here) => port.presence(here),
      },
      {
        mayUse: (client, participantId) => this.#mayUse(client, participantId),
        claim: (client, participantId) => void this.#clientOwner.set(client, participantId),
      },
    );
    this.#queue = new WriteQueue({
      store,
      meetingId: id,
      log,
      flushWindowMs,
      stateVector: (d) => {
        const doc = this.#doc(d);
        return doc ? Y.encodeStateVector(doc) : undefined;
      },
      onDurable: (svs) => {
        for (const [d, sv] of svs) {
          this.#durable.set(d, sv);
          if (d !== MEETING_DOC) this.port.saved(d, d, sv);
        }
      },
      onStorage: (status) => this.port.storage(status),
      ...(onLost ? { onLost } : {}),
      ...(metrics ? { metrics } : {}),
    });
  }

  static async load(
    record: MeetingRecord,
    participants: readonly ParticipantRecord[],
    context: MeetingContext,
    deps: {
      store: Store;
      port: MeetingPort;
      clock: Clock;
      log: Log;
      flushWindowMs: number;
      metrics?: Metrics;
      /** Another instance took the meeting over (several instances): stop serving it. */
      onLost?: () => void;
    },
  ): Promise<Meeting> {
    const m = new Meeting(
      record.id,
      deps.store,
      deps.port,
      deps.clock,
      deps.log,
      deps.flushWindowMs,
      deps.metrics,
      deps.onLost,
    );
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
    m.meetingDoc.clientID = smallClientId(m.meetingDoc);
    for (const [id, p] of m.people.entries()) if (typeof p.n === 'number') m.#numbered(id, p.n);
    // An erased voice may still hold words a scribe wrote for someone else that they confirmed
    // or corrected (those are theirs, SPEC 16): it stays, closed to writes.
    for (const p of participants) if (p.erased) m.#erased.add(p.id);
    for (const [id, doc] of m.#voices) {
      m.#docBytes.set(id, Y.encodeStateAsUpdate(doc).length);
      for (const client of doc.store.clients.keys()) if (!m.#clientOwner.has(client)) m.#clientOwner.set(client, id);
    }
    m.#wire(m.meetingDoc, MEETING_DOC);
    for (const [id, doc] of m.#voices) m.#wire(doc, id);
    m.#reconcile(record, participants);
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

  /** The order marks as the meeting document stores them (see `StoredMark`). */
  get order(): Y.Array<unknown> {
    return this.meetingDoc.getArray<unknown>(MEETING_ORDER);
  }

  /** The order marks as every reader sees them. */
  orderMarks(): OrderMark[] {
    return readOrder(this.order.toArray(), voiceNumbers(this.people.entries()), this.#openedAt);
  }

  get #openedAt(): number {
    const at = this.#state.get('openedAt');
    return typeof at === 'number' ? at : 0;
  }

  /** Each person's number (the server gives it on joining; see `Person.n`). */
  #numberOf(id: string): number | undefined {
    const n = this.#names.tagOf(id);
    return typeof n === 'number' && n > 0 ? n : undefined;
  }

  #nextNumber(): number {
    return this.#names.next;
  }

  /** Note that number `n` names the voice `id` (and say so to everyone connected). */
  #numbered(id: string, n: number): void {
    if (this.#names.name(n, id) && this.#ready) this.port.voice(n, id);
  }

  /** How a document is named on the wire: its number, or its id should it have none. */
  tagOf(id: string): DocTag {
    return this.#names.tagOf(id);
  }

  /** The document a wire name names (a number, or an id), if it is one of this meeting's. */
  docAt(tag: DocTag): string | undefined {
    const id = this.#names.idOf(tag);
    return id !== undefined && (id === MEETING_DOC || this.#isVoice(id)) ? id : undefined;
  }

  /** Whether `id` is a voice of this meeting: a person's (numbered), or one the store holds. */
  #isVoice(id: string): boolean {
    return this.#voices.has(id) || this.#numberOf(id) !== undefined;
  }

  /** Every voice of the meeting, those that hold nothing yet (and have no document) included. */
  #voiceIds(): Set<string> {
    const ids = new Set(this.#voices.keys());
    for (const id of this.#names.list()) if (id !== '' && id !== MEETING_DOC) ids.add(id);
    return ids;
  }

  /** A document to read: the meeting document, a voice's, or `NOTHING` for a voice without one. */
  #read(id: string): Y.Doc | undefined {
    if (id === MEETING_DOC) return this.meetingDoc;
    return this.#voices.get(id) ?? (this.#isVoice(id) ? NOTHING : undefined);
  }

  /** Every document's id, at the index of its number (`Welcome.docs`). */
  docList(): string[] {
    return this.#names.list();
  }

  /** The voice document of a participant (created, empty, when `create`: when they first write). */
  #voice(id: string, create = false): Y.Doc | undefined {
    let doc = this.#voices.get(id);
    if (!doc && create) {
      // Garbage collection on: nothing deletes from a voice but an erasure (below), whose words
      // must then be gone from memory and from what is written back to disk.
      doc = new Y.Doc({ guid: id });
      this.#voices.set(id, doc);
      if (this.#ready) {
        this.#docBytes.set(id, 0);
        this.#durable.set(id, Y.encodeStateVector(doc));
        this.#wire(doc, id);
      }
    }
    return doc;
  }

  /** The voice documents that exist: those that hold something, or whose person has written. */
  voiceDocs(): ReadonlyMap<string, Y.Doc> {
    return this.#voices;
  }

  #doc(id: string): Y.Doc | undefined {
    return id === MEETING_DOC ? this.meetingDoc : this.#voices.get(id);
  }

  /** A participant joined (or changed how they describe themselves). Written by the server. */
  setPerson(p: ParticipantRecord): void {
    const person: Person = { name: p.name, relation: p.relation, aboutMe: p.aboutMe, joinedAt: p.joinedAt };
    if (p.addedBy) person.addedBy = p.addedBy;
    if (p.removed) person.removed = true;
    if (p.erased) Object.assign(person, { name: '', relation: '', erased: true });
    const current = this.people.get(p.id);
    person.n = current?.n ?? this.#nextNumber();
    if (current && JSON.stringify(current) === JSON.stringify(person)) return;
    this.meetingDoc.transact(() => this.people.set(p.id, person), SERVER);
    this.#numbered(p.id, person.n);
  }

  /**
   * After loading: the meeting document is the truth for the meeting's state and for how people
   * describe themselves (commands write it first, then the store's rows; the commands layer brings
   * rows that a crash left behind up to date, see commands/reconcile.ts). What only the rows can
   * know comes from them: a new meeting's first state, people whose join reached the rows but not
   * the document, and erasure (written to the rows first).
   */
  #reconcile(record: MeetingRecord, participants: readonly ParticipantRecord[]): void {
    const state = this.meetingDoc.getMap<unknown>(MEETING_STATE);
    if (!state.has('status')) {
      this.meetingDoc.transact(() => {
        state.set('openedAt', record.openedAt);
        state.set('status', record.status);
        state.set('locked', record.locked);
        state.set('facilitators', [...record.facilitators]);
        state.set('phase', 'open' satisfies Phase);
      }, SERVER);
    }
    const events = this.meetingDoc.getArray<MeetingEvent>(MEETING_EVENTS);
    const added = new Set(events.toArray().flatMap((e) => (e.t === 'person-added' ? [e.who] : [])));
    const about = new Set(events.toArray().flatMap((e) => (e.t === 'about' ? [e.who] : [])));
    for (const p of participants) {
      const known = this.people.get(p.id);
      if (!known) {
        this.setPerson(p);
        if (p.addedBy && !added.has(p.id)) this.#event(p.addedBy, { t: 'person-added', who: p.id });
        if (p.aboutMe && !about.has(p.id)) this.#event(p.id, { t: 'about', who: p.id, aboutMe: true });
      } else if (p.erased && !known.erased) {
        this.meetingDoc.transact(
          () => this.people.set(p.id, { ...known, name: '', relation: '', erased: true }),
          SERVER,
        );
      }
    }
    // People listed before numbers existed get theirs, in the order they joined.
    const unnumbered = [...this.people.entries()]
      .filter(([, p]) => typeof p.n !== 'number')
      .sort(([a, pa], [b, pb]) => pa.joinedAt - pb.joinedAt || (a < b ? -1 : 1));
    if (unnumbered.length > 0) {
      let n = this.#nextNumber();
      this.meetingDoc.transact(() => {
        for (const [id, p] of unnumbered) {
          this.people.set(id, { ...p, n });
          this.#numbered(id, n++);
        }
      }, SERVER);
    }
    // Entries that reached the store without their order mark (a crash between the two) get one now.
    const marked = new Set(this.orderMarks().map((mk) => refOf(mk.v, mk.id)));
    const missing: Array<[string, string]> = [];
    for (const [v, doc] of this.#voices) {
      for (const entry of doc.getArray<{ id: string }>(VOICE_LOG).toArray()) {
        if (!marked.has(refOf(v, entry.id))) missing.push([v, entry.id]);
      }
    }
    if (missing.length > 0) this.#pushMarks(missing, this.clock.now());
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
      order: this.orderMarks(),
      events: this.meetingDoc.getArray<MeetingEvent>(MEETING_EVENTS).toArray(),
      voices,
    };
  }

  get #state(): Y.Map<unknown> {
    return this.meetingDoc.getMap<unknown>(MEETING_STATE);
  }

  get phase(): Phase {
    return (this.#state.get('phase') as Phase | undefined) ?? 'open';
  }

  get status(): MeetingState['status'] {
    return this.#state.get('status') === 'ended' ? 'ended' : 'open';
  }

  get locked(): boolean {
    return this.#state.get('locked') === true;
  }

  get facilitators(): readonly string[] {
    return (this.#state.get('facilitators') as string[] | undefined) ?? [];
  }

  get erasureRequest(): MeetingState['erasure'] {
    return (this.#state.get('erasure') as MeetingState['erasure']) ?? null;
  }

  /**
   * Change the meeting's state and record what happened, in one update everyone receives. Only
   * the commands layer calls this; it then awaits `flushed()` before acknowledging.
   */
  act(
    by: string,
    event: DistributiveOmit<MeetingEvent, 'id' | 'at' | 'seq' | 'by'> | null,
    patch: Partial<Pick<MeetingState, 'status' | 'locked' | 'facilitators' | 'phase' | 'erasure'>> = {},
  ): void {
    this.meetingDoc.transact(() => {
      for (const [k, val] of Object.entries(patch)) this.#state.set(k, val);
      if (event) this.#event(by, event);
    }, SERVER);
  }

  #event(by: string, event: DistributiveOmit<MeetingEvent, 'id' | 'at' | 'seq' | 'by'>): void {
    const full = { ...event, id: randomId(), at: this.clock.now(), seq: this.order.length, by } as MeetingEvent;
    this.meetingDoc.transact(() => this.meetingDoc.getArray<MeetingEvent>(MEETING_EVENTS).push([full]), SERVER);
  }

  /** Mark a person removed (their words stay) or otherwise change what everyone sees of them. */
  markPerson(id: string, patch: Partial<Person>): void {
    const current = this.people.get(id);
    if (!current) return;
    this.meetingDoc.transact(() => this.people.set(id, { ...current, ...patch }), SERVER);
  }

  // ── wiring: persistence, broadcast, order ────────────────────────────────────────────

  /**
   * The answer to a sync step 1. A newcomer (empty state vector) gets a cached encoding of the
   * whole document, made once per change rather than once per joiner.
   */
  #step2(id: string, doc: Y.Doc, stateVector: Uint8Array): Uint8Array {
    if (stateVector.length !== 1 || stateVector[0] !== 0) return syncStep2(doc, stateVector);
    if (doc === NOTHING) return NOTHING_STEP2;
    let whole = this.#whole.get(id);
    if (!whole) {
      whole = syncStep2(doc);
      this.#whole.set(id, whole);
    }
    return whole;
  }

  #wire(doc: Y.Doc, id: string): void {
    doc.on('update', (update: Uint8Array, origin: Origin) => {
      this.#whole.delete(id);
      if (origin === STORE) return;
      this.#queue.enqueue({ doc: id, update });
      // Shared at once, so the meeting stays live even while the disk is failing. A voice's writer
      // keeps its words until told they are saved and sends them again after a crash; a device
      // holding meeting state that a crash took back drops it on reconnecting (see greeting()).
      const tag = this.tagOf(id);
      if (this.#outbox) this.#outbox.push([tag, syncUpdate(update)]);
      else this.port.broadcast(tag, syncUpdate(update), origin?.kind === 'connection' ? origin.socketId : undefined);
    });
  }

  /** Note when the server first received these entries: their place in the record's order. */
  #mark(voice: string, entries: readonly VoiceEntry[]): void {
    if (entries.length === 0) return;
    this.#pushMarks(
      entries.map((entry) => [voice, entry.id]),
      this.clock.now(),
    );
  }

  /** Append order marks (voice, entry id), all at server time `at`, in their stored form. */
  #pushMarks(refs: ReadonlyArray<readonly [string, string]>, at: number): void {
    const openedAt = this.#openedAt;
    const marks = refs.map(([v, id]): unknown => {
      const n = this.#numberOf(v);
      // (Every person has a number once loaded; the object form stays readable regardless.)
      return n === undefined ? ({ v, id, at } satisfies OrderMark) : storedMark(n, id, at, openedAt);
    });
    this.meetingDoc.transact(() => this.order.push(marks), SERVER);
  }

  // ── connections ──────────────────────────────────────────────────────────────────────

  connect(socketId: string, participantId: string): void {
    this.#presence.connect(socketId, participantId);
  }

  disconnect(socketId: string): void {
    this.#presence.disconnect(socketId);
  }

  here(): string[] {
    return this.#presence.here();
  }

  get connectionCount(): number {
    return this.#presence.connectionCount;
  }

  /**
   * Messages for a new connection: a sync request for its own voice, the state vector of the
   * meeting document and of every other voice it says it holds (`have`), and who is writing now.
   */
  greeting(participantId: string, have?: ReadonlySet<string>): Array<[DocTag, Uint8Array]> {
    const out: Array<[DocTag, Uint8Array]> = [];
    const own = this.#voices.get(participantId);
    out.push([this.tagOf(participantId), own ? syncStep1(own) : NOTHING_STEP1]);
    // The meeting document's state vector: a device holding more than this (from before a crash)
    // drops its copy and syncs afresh. The same for another person's voice: what a crash took back
    // before it was saved, its writer sends again — unless its device has started that voice afresh
    // meanwhile (after a refusal), when the copy held here would differ from the server's for good.
    out.push([0, syncStep1(this.meetingDoc)]);
    if (have) {
      for (const id of have) {
        const doc = id === participantId ? undefined : this.#read(id);
        if (doc) out.push([this.tagOf(id), doc === NOTHING ? NOTHING_STEP1 : syncStep1(doc)]);
      }
    }
    for (const [id, m] of this.#presence.snapshot()) out.push([this.tagOf(id), m]);
    return out;
  }
  /**
   * The whole state of every document this device does not hold (as sync step 2s: cached, made
   * once per change), so that it is synced without asking.
   */
  pushFor(have: ReadonlySet<string>): Array<[DocTag, Uint8Array]> {
    const pushed: Array<[DocTag, Uint8Array]> = [];
    for (const id of [MEETING_DOC, ...this.#voiceIds()]) {
      if (have.has(id)) continue;
      pushed.push([this.tagOf(id), this.#step2(id, this.#read(id)!, EMPTY_STATE_VECTOR)]);
    }
    return pushed;
  }

  /** Every document's state vector now: where a connection that is handed this state starts. */
  stateVectors(): Map<string, Uint8Array> {
    const out = new Map<string, Uint8Array>([[MEETING_DOC, Y.encodeStateVector(this.meetingDoc)]]);
    for (const id of this.#voiceIds()) out.set(id, Y.encodeStateVector(this.#read(id)!));
    return out;
  }

  /** Everything that changed since those state vectors, as sync updates (nothing for what did not). */
  changesSince(since: ReadonlyMap<string, Uint8Array>): Array<[DocTag, Uint8Array]> {
    const out: Array<[DocTag, Uint8Array]> = [];
    for (const id of [MEETING_DOC, ...this.#voiceIds()]) {
      const doc = this.#read(id)!;
      const before = since.get(id);
      if (before && sameBytes(before, Y.encodeStateVector(doc))) continue;
      out.push([this.tagOf(id), syncUpdate(Y.encodeStateAsUpdate(doc, before))]);
    }
    return out;
  }

  /** The durably stored state vector of a document. */
  durableStateVector(doc: string): Uint8Array | undefined {
    return this.#durable.get(doc) ?? (this.#isVoice(doc) ? EMPTY_STATE_VECTOR : undefined);
  }

  /** Handle one y-protocols message from a connection. Never throws for bad input. */
  receive(socketId: string, participantId: string, tag: DocTag, bytes: Uint8Array): Received {
    const docId = this.docAt(tag);
    const known = docId === undefined ? undefined : this.#read(docId);
    if (!known || docId === undefined)
      return refuse(Refusal.unknownDocument, 'There is no such document in this meeting.');
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
          return { ok: true, reply: [this.tagOf(docId), this.#step2(docId, known, msg.stateVector)] };
        } catch {
          return refuse(Refusal.malformed, 'The state vector could not be decoded.');
        }
      }
      case 'step2':
      case 'update': {
        // A device's answer to the server's sync step 1 that holds nothing new changes nothing:
        // accepted as a no-op for any document, so a stock y-protocols client just works (SPEC 1, 2).
        if (carriesNothingNew(known, msg.update)) return { ok: true };
        if (docId !== participantId) {
          return refuse(
            Refusal.notYourDocument,
            'You can only write your own words. This document belongs to someone else.',
          );
        }
        if (this.status !== 'open')
          return refuse(Refusal.meetingEnded, 'This meeting has ended; its record can no longer change.');
        if (this.#erased.has(docId))
          return refuse(Refusal.erased, 'Your words in this meeting were erased at your request.');
        // One's own voice gets its document with its first words.
        const doc = known === NOTHING ? this.#voice(docId, true)! : known;
        const size = (this.#docBytes.get(docId) ?? 0) + msg.update.length;
        if (size > LIMITS.documentBytes)
          return refuse(Refusal.tooLarge, 'Your record in this meeting has reached its size limit.');
        const checked = checkVoiceUpdate(doc, msg.update, (client) => this.#mayUse(client, participantId));
        if (checked.problem) return { ok: false, problem: checked.problem };
        // The update and its order marks go to everyone in one frame; the writer gets only the
        // marks (it has its update).
        this.#outbox = [];
        try {
          Y.applyUpdate(doc, msg.update, { kind: 'connection', socketId, participantId } satisfies Origin);
          for (const client of checked.clients)
            if (!this.#clientOwner.has(client)) this.#clientOwner.set(client, participantId);
          this.#mark(docId, checked.fresh);
        } finally {
          const out = this.#outbox;
          this.#outbox = null;
          if (out.length > 0) this.port.broadcastAll(out, { socketId, doc: this.tagOf(docId) });
        }
        this.#docBytes.set(docId, size);
        this.metrics?.updatesApplied.inc();
        return { ok: true };
      }
      case 'awareness': {
        const problem = this.#presence.receive(socketId, participantId, docId, msg.update);
        return problem ? { ok: false, problem } : { ok: true };
      }
    }
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

  get storageFailing(): boolean {
    return this.#queue.failing;
  }

  get idle(): boolean {
    return this.#presence.connectionCount === 0 && this.#queue.idle;
  }

  /** Resolves once everything applied so far is durably stored (waits through retries). */
  flushed(): Promise<void> {
    return this.#queue.flushed();
  }

  async #compact(): Promise<void> {
    const all: DocUpdate[] = [{ doc: MEETING_DOC, update: Y.encodeStateAsUpdate(this.meetingDoc) }];
    for (const [id, doc] of this.#voices) all.push({ doc: id, update: Y.encodeStateAsUpdate(doc) });
    await this.store.compact(this.id, all);
    for (const u of all) this.#durable.set(u.doc, Y.encodeStateVectorFromUpdate(u.update));
  }

  /**
   * Erase one person's words (SPEC 16): the only deletions ever made in a voice, by the server, on
   * that person's request. Deleted: every entry of their own voice — except words they wrote down
   * for someone else that that person has since confirmed or corrected, which are that person's
   * (SPEC 11) — and, in every other voice, the words and positions written down for them. Their
   * name leaves the meeting document, and the meeting's log is rewritten without any of it.
   */
  async eraseVoice(participantId: string): Promise<void> {
    await this.flushed();
    this.#erased.add(participantId);
    const person = this.people.get(participantId);
    if (person && !person.erased) {
      this.meetingDoc.transact(
        () => this.people.set(participantId, { ...person, name: '', relation: '', erased: true }),
        SERVER,
      );
    }
    // Refs of entries a scribe wrote for X that X confirmed or corrected from X's own voice.
    const owned = new Set<string>();
    const entriesOf = new Map<string, VoiceEntry[]>();
    for (const [voice, doc] of this.#voices) {
      const entries = doc.getArray<VoiceEntry>(VOICE_LOG).toArray();
      entriesOf.set(voice, entries);
      for (const e of entries) {
        const ref = confirmedRef(e);
        if (ref) owned.add(`${voice}>${ref}`);
      }
    }
    const confirmedBySpeaker = (voice: string, e: VoiceEntry): boolean => {
      const speaker = writtenFor(e);
      return speaker !== undefined && speaker !== participantId && owned.has(`${speaker}>${refOf(voice, e.id)}`);
    };
    for (const [voice, doc] of this.#voices) {
      const entries = entriesOf.get(voice)!;
      let doomed: (e: VoiceEntry) => boolean;
      if (voice === participantId) {
        const kept = new Set(entries.filter((e) => confirmedBySpeaker(voice, e)).map((e) => e.id));
        doomed = (e) => !kept.has(e.id);
      } else {
        // Their words and positions written down here, and every amendment of those.
        const theirs = new Set(entries.filter((e) => writtenFor(e) === participantId).map((e) => e.id));
        doomed = (e) => theirs.has(e.id) || theirs.has(ownTarget(e) ?? '');
      }
      const indexes = entries.flatMap((e, i) => (doomed(e) ? [i] : []));
      if (indexes.length === 0) continue;
      const log = doc.getArray<VoiceEntry>(VOICE_LOG);
      doc.transact(() => {
        for (const i of indexes.reverse()) log.delete(i, 1);
      }, SERVER);
      this.#docBytes.set(voice, Y.encodeStateAsUpdate(doc).length);
    }
    this.port.erased(participantId);
    await this.flushed();
    await this.#compact();
  }

  /** Whose words are in the record now (voices with entries, and people words were written for). */
  authors(): Set<string> {
    const out = new Set<string>();
    for (const [voice, doc] of this.#voices) {
      const entries = doc.getArray<VoiceEntry>(VOICE_LOG).toArray();
      if (entries.length > 0) out.add(voice);
      for (const e of entries) {
        const speaker = writtenFor(e);
        if (speaker) out.add(speaker);
      }
    }
    return out;
  }

  /** Flush and stop timers. Keeps nothing back: call `flushed()` first when the store works. */
  close(): void {
    this.#queue.close();
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

/**
 * The client id the server writes the meeting document under from this load on: small (14 bits,
 * two bytes where one of Yjs's random 32-bit ids takes five — and every order mark names it
 * twice, as its own and as its left neighbour's) and fresh: no stored item of the meeting has it,
 * so what a crash took back of an earlier load (which devices may hold, and drop on reconnecting
 * when they hold more than the server) is not written again differently under the same id. Only
 * a load that a crash took back entirely leaves no trace of its id; drawing it again is a chance of
 * 1 in 16,383, as Yjs itself accepts 1 in 2^32 for its ids. (Should fresh small ids ever run out,
 * Yjs's random one stays.)
 */
function smallClientId(doc: Y.Doc): number {
  for (let tries = 0; tries < 64; tries++) {
    const id = 1 + Math.floor(Math.random() * 16383);
    if (!doc.store.clients.has(id)) return id;
  }
  return doc.clientID;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function refuse(code: Problem['code'], message: string): Received {
  return { ok: false, problem: { code, message } };
}
