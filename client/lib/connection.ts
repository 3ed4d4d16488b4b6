/**
 * The network, behind one small module: a meeting's documents synced over one Socket.IO
 * connection with the standard y-protocols messages, plus presence and "saved" state.
 *
 * Plain TypeScript (no Svelte), so tests, benchmarks and scripts use exactly what the page uses.
 */
import { io, type ManagerOptions, type Socket, type SocketOptions } from 'socket.io-client';
import { IndexeddbPersistence } from 'y-indexeddb';
import * as Y from 'yjs';
import { MEETING_DOC, isId, randomEntryId } from '../../shared/ids.js';
import { LIMITS } from '../../shared/limits.js';
import {
  PROTOCOL_VERSION,
  type AckOf,
  type ClientToServerEvents,
  type CloseReasonCode,
  type Refused,
  type ServerToClientEvents,
  type StorageStatus,
} from '../../shared/protocol.js';
import {
  MEETING_EVENTS,
  MEETING_ORDER,
  MEETING_PEOPLE,
  MEETING_STATE,
  VOICE_LOG,
  buildRecord,
  readOrder,
  voiceNumbers,
  isVoiceEntry,
  type MeetingEvent,
  type MeetingState,
  type OrderMark,
  type Person,
  type RecordView,
  type Stance,
  type VoiceEntry,
} from '../../shared/record.js';
import { fromBase64, toBase64 } from 'lib0/buffer';
import {
  DocNames,
  awarenessMessage,
  bytesOf,
  covers,
  decodeAwareness,
  decodeYMessage,
  isPresenceState,
  parser,
  sendable,
  syncStep1,
  syncStep2,
  syncUpdate,
  yPairs,
} from '../../shared/wire.js';

export type ControlEvent = Exclude<keyof ClientToServerEvents, 'y'>;

export type LinkStatus = 'connecting' | 'connected' | 'offline' | 'refused';

export interface ConnectionOptions {
  /** Server URL; the page's own origin when omitted. */
  url?: string;
  meetingId: string;
  /** Personal token (scripts). Browsers use the session cookie instead. */
  token?: string;
  /** Extra Socket.IO options (tests: `forceNew`, `reconnection`…). */
  socket?: Partial<ManagerOptions & SocketOptions>;
  /**
   * Keep a copy of the meeting on this device (IndexedDB), so words written offline survive
   * closing the page and are shared on reconnecting. Browsers only; the participant's choice.
   */
  persist?: boolean;
  /** This participant's id, when known from an earlier visit: lets them write before connecting. */
  me?: string;
  /** Which of the people this browser's session holds to connect as (a shared device may hold several). */
  as?: string;
}

/**
 * Whether `doc` holds anything beyond the encoded state vector `sv` — including updates parked as
 * "pending" (waiting for earlier ones): those may come from a server instance that crashed, and
 * would otherwise slot in later against the new instance's state.
 */
function holdsMore(doc: Y.Doc, sv: Uint8Array): boolean {
  if (doc.store.pendingStructs !== null || doc.store.pendingDs !== null) return true;
  let theirs: Map<number, number>;
  try {
    theirs = Y.decodeStateVector(sv);
  } catch {
    return false;
  }
  for (const [client, clock] of Y.decodeStateVector(Y.encodeStateVector(doc))) {
    if (clock > (theirs.get(client) ?? 0)) return true;
  }
  return false;
}

/** Origin of updates that came from the server (never sent back). */
const REMOTE = Symbol('remote');

/**
 * Refusals of one's own updates after which this device's voice no longer matches the server's
 * (every later update would depend on what was refused): the voice is reset to the server's state.
 * (`meeting-ended` and `erased` are not among them: nothing more can be written then.)
 */
const RESET_ON: ReadonlySet<string> = new Set([
  'malformed',
  'missing-dependencies',
  'too-large',
  'rate-limited',
  'not-your-document',
]);

/** The words of an entry (or of something that is not a valid entry), if it holds any. */
function wordsOf(raw: unknown): string | null {
  if (typeof raw !== 'object' || raw === null || !Object.hasOwn(raw, 'text')) return null;
  const text: unknown = (raw as { text: unknown }).text;
  return typeof text === 'string' && text.trim() ? text : null;
}

export class MeetingConnection {
  // Named documents: Yjs would otherwise draw a random UUID for each (about 100 µs apiece).
  #meetingDoc = new Y.Doc({ guid: MEETING_DOC });
  readonly voices = new Map<string, Y.Doc>();
  readonly socket: Socket<ServerToClientEvents, ClientToServerEvents>;
  /** This participant's id, as the server knows it (after `welcome`). */
  me: string | null = null;
  status: LinkStatus = 'connecting';
  /** Why the server refused the connection, if it did. */
  connectError: { code: string; message: string } | null = null;
  here: string[] = [];
  storage: StorageStatus = 'ok';
  refusals: Refused[] = [];
  /** Why the server closed this connection on purpose (`closing`), if it did. */
  closing: CloseReasonCode | null = null;
  /** Erased voices this device has already dropped and synced afresh. */
  readonly #refreshed = new Set<string>();
  /** Who is writing now, by voice id. */
  readonly typing = new Map<string, Map<number, boolean>>();
  #savedSv = new Map<number, number>();
  readonly #persistence = new Map<string, IndexeddbPersistence>();
  /** Resolves once this device's copy (if any) is loaded. */
  readonly ready: Promise<void>;
  #listeners = new Set<() => void>();
  #typingClock = 0;
  #closed = false;
  #serverCloses = 0;
  /** Handshakes in a row answered "unavailable" (retried with backoff). */
  #unavailable = 0;
  #retry: ReturnType<typeof setTimeout> | undefined;
  #typingNow = false;
  /** Sync step 1s sent for one's own voice on this connection, and step 2 answers received. */
  #ownAsked = 0;
  #ownAnswered = 0;
  /** Documents asked for on this connection whose answer (sync step 2) has not arrived yet. */
  readonly #awaiting = new Set<string>();
  /** The documents this device said it holds when it connected (it asks only for those). */
  #announced = new Set<string>();
  /** How the data plane names documents (`DocTag`), from `welcome` and `voice`. */
  readonly #names = new DocNames();
  /** The documents the server sends by itself on this connection (listed in `welcome`). */
  #pushed = new Set<string>();

  /** Connected, and the server has answered for every document this device asked about. */
  get synced(): boolean {
    return this.status === 'connected' && this.#awaiting.size === 0;
  }
  /** A reset of one's own voice under way: the old copy, and the answer that completes it. */
  #reset: { old: Y.Doc; awaiting: number } | null = null;
  /** Entries re-sent by the last reset (refused again, the first of them is kept as a draft). */
  #resent = new Set<string>();
  readonly #refusedWordsListeners = new Set<(texts: string[]) => void>();
  /** Words the server refused (kept for the person as a draft), oldest first. */
  readonly refusedWords: string[] = [];

  constructor(readonly options: ConnectionOptions) {
    const opts: Partial<ManagerOptions & SocketOptions> = {
      // Evaluated on every (re)connection: which documents this device already holds something
      // of. The server sends the whole state of every other one at once (one round trip fewer).
      auth: (cb: (data: object) => void) => {
        this.#announced = new Set(
          [[MEETING_DOC, this.meetingDoc] as const, ...this.voices].flatMap(([id, doc]) =>
            doc.store.clients.size > 0 ? [id] : [],
          ),
        );
        cb({
          protocol: PROTOCOL_VERSION,
          meetingId: options.meetingId,
          ...(options.token ? { token: options.token } : {}),
          ...(options.as ? { participantId: options.as } : {}),
          have: [...this.#announced],
        });
      },
      parser,
      transports: ['websocket', 'polling'],
      tryAllTransports: true,
      withCredentials: true,
      reconnectionDelay: 500,
      reconnectionDelayMax: 8000,
      ...options.socket,
    };
    this.socket = options.url ? io(options.url, opts) : io(opts);
    this.#wireMeetingDoc();
    if (options.me && isId(options.me)) {
      this.me = options.me;
      this.#voice(options.me);
      this.#savedSv = this.#loadSaved();
    }
    this.ready = Promise.all([...this.#persistence.values()].map((p) => p.whenSynced)).then(() => undefined);
    this.#wireSocket();
  }

  /** The meeting document: written by the server only; read here. */
  get meetingDoc(): Y.Doc {
    return this.#meetingDoc;
  }

  #wireMeetingDoc(): void {
    const doc = this.#meetingDoc;
    doc.getMap<Person>(MEETING_PEOPLE).observe(() => {
      for (const [id, p] of this.people) {
        // An erasure (perhaps one this device missed while offline): drop its copy of those words,
        // then sync the voice afresh — it may still hold words its writer wrote down for someone
        // else who confirmed them (SPEC 16), and those are that person's.
        if (p.erased && !this.#refreshed.has(id)) {
          this.#refreshed.add(id);
          if (this.voices.has(id)) this.#drop(id);
        }
        this.#voice(id);
      }
    });
    doc.on('update', () => this.#changed());
    this.#persist(MEETING_DOC, doc);
  }

  /**
   * This device holds meeting state the server does not have (it was shared before a crash took
   * it back): drop the copy and sync the server's afresh. Only the server writes this document,
   * so nothing of anyone's is lost.
   */
  #resetMeetingDoc(): void {
    const old = this.#meetingDoc;
    const persistence = this.#persistence.get(MEETING_DOC);
    this.#persistence.delete(MEETING_DOC);
    this.#meetingDoc = new Y.Doc({ guid: MEETING_DOC });
    const rewire = () => {
      this.#wireMeetingDoc();
      this.#send(MEETING_DOC, syncStep1(this.#meetingDoc));
      this.#changed();
    };
    old.destroy();
    if (persistence) void persistence.clearData().then(rewire, rewire);
    else rewire();
  }

  // ── this device's copy ───────────────────────────────────────────────────────────────

  #persist(docId: string, doc: Y.Doc): void {
    if (!this.options.persist || typeof indexedDB === 'undefined') return;
    this.#persistence.set(docId, new IndexeddbPersistence(`polyphony:${this.options.meetingId}:${docId}`, doc));
  }

  #savedKey(): string {
    return `polyphony:saved:${this.options.meetingId}`;
  }

  #loadSaved(): Map<number, number> {
    if (!this.options.persist || typeof localStorage === 'undefined') return new Map();
    try {
      const b64 = localStorage.getItem(this.#savedKey());
      return b64 ? Y.decodeStateVector(fromBase64(b64)) : new Map();
    } catch {
      return new Map();
    }
  }

  /** Whether this device keeps a copy of the meeting. */
  get keepsCopy(): boolean {
    return this.#persistence.size > 0;
  }

  /** Remove this device's copy of the meeting (a shared or borrowed phone). */
  async clearLocal(): Promise<void> {
    await Promise.all([...this.#persistence.values()].map((p) => p.clearData()));
    this.#persistence.clear();
    if (typeof localStorage !== 'undefined') localStorage.removeItem(this.#savedKey());
  }

  #drop(docId: string): void {
    const doc = this.voices.get(docId);
    void this.#persistence.get(docId)?.clearData();
    this.#persistence.delete(docId);
    this.voices.delete(docId);
    doc?.destroy();
    this.#changed();
  }

  // ── reading ──────────────────────────────────────────────────────────────────────────

  get people(): Y.Map<Person> {
    return this.meetingDoc.getMap<Person>(MEETING_PEOPLE);
  }

  get state(): Partial<MeetingState> {
    return this.meetingDoc.getMap<unknown>(MEETING_STATE).toJSON() as Partial<MeetingState>;
  }

  /** How many order marks the meeting document holds (cheap: nothing is read). */
  get orderLength(): number {
    return this.meetingDoc.getArray<unknown>(MEETING_ORDER).length;
  }

  get order(): OrderMark[] {
    const state = this.meetingDoc.getMap<unknown>(MEETING_STATE).get('openedAt');
    return readOrder(
      this.meetingDoc.getArray<unknown>(MEETING_ORDER).toArray(),
      voiceNumbers(this.people.entries()),
      typeof state === 'number' ? state : 0,
    );
  }

  get events(): MeetingEvent[] {
    return this.meetingDoc.getArray<MeetingEvent>(MEETING_EVENTS).toArray();
  }

  log(voice: string): VoiceEntry[] {
    return this.#voice(voice)?.getArray<VoiceEntry>(VOICE_LOG).toArray() ?? [];
  }

  record(): RecordView {
    const logs = new Map<string, VoiceEntry[]>();
    for (const [id, doc] of this.voices) logs.set(id, doc.getArray<VoiceEntry>(VOICE_LOG).toArray());
    // While one's own voice is being reset, one's words stay on the screen as they were until the
    // server's copy has arrived and what it lacks is sent again (the fold skips invalid entries).
    if (this.#reset && this.me) logs.set(this.me, this.#reset.old.getArray<VoiceEntry>(VOICE_LOG).toArray());
    return buildRecord({ order: this.order, events: this.events }, logs);
  }

  /** True when everything this participant wrote is durably stored on the server. */
  get saved(): boolean {
    if (!this.me) return true;
    // A reset under way holds words that are sent again once the server's copy has arrived.
    if (this.#reset) return false;
    const own = this.voices.get(this.me);
    return !own || covers(this.#savedSv, Y.decodeStateVector(Y.encodeStateVector(own)));
  }

  writing(voice: string): boolean {
    for (const t of this.typing.get(voice)?.values() ?? []) if (t) return true;
    return false;
  }

  /**
   * Call `fn` with the words of changes the server refused (e.g. over the size limit), so the page
   * can give them back to the person as a draft. Everything else this device wrote is sent again.
   */
  onRefusedWords(fn: (texts: string[]) => void): () => void {
    this.#refusedWordsListeners.add(fn);
    return () => this.#refusedWordsListeners.delete(fn);
  }

  /** Call `fn` after any change (documents, presence, status, saved). Returns an unsubscribe. */
  subscribe(fn: () => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  // ── writing (only ever one's own voice document) ─────────────────────────────────────

  #append(entry: VoiceEntry): string {
    if (!this.me) throw new Error('not connected yet');
    const log = this.#voice(this.me)!.getArray<VoiceEntry>(VOICE_LOG);
    // Ids are short: never one this voice already holds.
    const held = new Set(log.toArray().map((e) => e.id));
    while (held.has(entry.id)) entry.id = randomEntryId();
    log.push([entry]);
    return entry.id;
  }

  /**
   * Add words to the record: one's own, or (with `forPerson`) another person's, written down for
   * them — shown as theirs, "written by" this participant, unconfirmed until they confirm.
   */
  say(
    text: string,
    opts: { re?: string; view?: 'answer' | 'different'; proposal?: boolean; forPerson?: string } = {},
  ): string {
    const entry: VoiceEntry = { t: 'say', id: randomEntryId(), text, at: Date.now() };
    if (opts.re) Object.assign(entry, { re: opts.re, view: opts.view ?? 'answer' });
    if (opts.proposal) entry.proposal = true;
    if (opts.forPerson && opts.forPerson !== this.me) entry.for = opts.forPerson;
    return this.#append(entry);
  }

  /**
   * Interpret another person's words (SPEC 18): shown with the original, "interpreted by" me, for
   * `speaker` to confirm or correct.
   */
  interpret(original: string, speaker: string, text: string): string {
    const entry: VoiceEntry = { t: 'say', id: randomEntryId(), text, at: Date.now(), interprets: original };
    if (speaker !== this.me) entry.for = speaker;
    return this.#append(entry);
  }

  /** Confirm words a scribe wrote for me, or a position a scribe recorded for me. */
  confirm(ref: string): string {
    return this.#append({ t: 'confirm', id: randomEntryId(), of: ref, at: Date.now() });
  }

  /** Correct words a scribe wrote for me; my correction stands. */
  correct(ref: string, text: string): string {
    return this.#append({ t: 'correct', id: randomEntryId(), of: ref, text, at: Date.now() });
  }

  /** My position on a proposal (or, with `forPerson`, a position written down for someone). */
  position(proposal: string, stance: Stance, text = '', forPerson?: string): string {
    const entry: VoiceEntry = { t: 'position', id: randomEntryId(), of: proposal, stance, at: Date.now() };
    if (text.trim()) entry.text = text;
    if (forPerson && forPerson !== this.me) entry.for = forPerson;
    return this.#append(entry);
  }

  /** As the one who proposed: note whether the meeting decided. */
  decide(of: string, outcome: 'decided' | 'open', text = ''): string {
    const entry: VoiceEntry = { t: 'decide', id: randomEntryId(), of, outcome, at: Date.now() };
    if (text.trim()) entry.text = text;
    return this.#append(entry);
  }

  /** A control-plane request, answered by the server's ack (or a plain error when offline). */
  async request<E extends ControlEvent>(event: E, input: Parameters<ClientToServerEvents[E]>[0]): Promise<AckOf<E>> {
    if (!this.socket.connected) {
      return { ok: false, error: 'unavailable' } as AckOf<E>;
    }
    try {
      const timed = this.socket.timeout(10_000) as unknown as { emitWithAck(e: E, i: unknown): Promise<AckOf<E>> };
      return await timed.emitWithAck(event, input);
    } catch {
      return { ok: false, error: 'internal' } as AckOf<E>;
    }
  }

  amend(of: string, text: string): string {
    return this.#append({ t: 'amend', id: randomEntryId(), of, text, at: Date.now() });
  }

  withdraw(of: string): string {
    return this.#append({ t: 'withdraw', id: randomEntryId(), of, at: Date.now() });
  }

  setTyping(typing: boolean): void {
    if (typing === this.#typingNow || !this.me) return;
    this.#typingNow = typing;
    this.#sendAwareness();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#retry);
    this.socket.disconnect();
    for (const p of this.#persistence.values()) void p.destroy();
    this.meetingDoc.destroy();
    for (const d of this.voices.values()) d.destroy();
    this.#listeners.clear();
  }

  // ── sync ─────────────────────────────────────────────────────────────────────────────

  #changed(): void {
    for (const fn of this.#listeners) fn();
  }

  #send(doc: string, message: Uint8Array): void {
    if (this.socket.connected) this.socket.emit('y', this.#names.tagOf(doc), sendable(message));
  }

  /** The document a data-plane name names: a number, or an id. */
  docOf(tag: unknown): string | undefined {
    return this.#names.idOf(tag);
  }

  #sendAwareness(): void {
    if (!this.me) return;
    const own = this.#voice(this.me)!;
    this.#typingClock++;
    this.#send(
      this.me,
      awarenessMessage([{ clientID: own.clientID, clock: this.#typingClock, state: { typing: this.#typingNow } }]),
    );
  }

  #voice(id: string, persist = true): Y.Doc | undefined {
    if (!isId(id)) return undefined;
    let doc = this.voices.get(id);
    if (!doc) {
      // Garbage collection on: the only deletion a voice ever sees is an erasure, whose words must
      // then leave this device's memory too.
      doc = new Y.Doc({ guid: id });
      this.voices.set(id, doc);
      const docId = id;
      doc.on('update', (update: Uint8Array, origin: unknown) => {
        // Only one's own, local edits are sent; everything else is read-only here. (Edits loaded
        // from this device's copy reach the server through the sync handshake instead.)
        if (origin == null && docId === this.me) this.#send(docId, syncUpdate(update));
        this.#changed();
      });
      if (persist) this.#persist(id, doc);
      if (this.socket?.connected && !this.#pushed.has(id)) this.#askFor(id, doc);
    }
    return doc;
  }

  /** Ask the server for what it has of a document (sync step 1). */
  #askFor(id: string, doc: Y.Doc): void {
    if (!this.socket.connected) return;
    if (id === this.me) this.#ownAsked++;
    this.#awaiting.add(id);
    this.#send(id, syncStep1(doc));
  }

  /**
   * The server refused one of this device's changes to its own voice: every later change would
   * depend on it and be refused too. Start afresh from the server's state — a new Y.Doc (so a new
   * Yjs client id), synced — then send again whatever the server does not have, and give back as
   * words to keep (a draft) what it refused.
   */
  #resetVoice(): void {
    const id = this.me;
    const old = id ? this.voices.get(id) : undefined;
    if (!id || !old || this.#reset) return;
    const persistence = this.#persistence.get(id);
    this.#persistence.delete(id);
    this.voices.delete(id);
    const doc = this.#voice(id, false)!;
    // The device's copy of the old state goes too, then the new state is kept instead.
    if (persistence) {
      void persistence.clearData().then(
        () => {
          if (!this.#closed && this.voices.get(id) === doc) this.#persist(id, doc);
        },
        () => undefined,
      );
    }
    this.#reset = { old, awaiting: this.#ownAsked };
    this.#changed();
  }

  /** The server's state of one's own voice has arrived: carry on from it. */
  #finishReset(): void {
    const reset = this.#reset;
    const id = this.me;
    const doc = id ? this.voices.get(id) : undefined;
    this.#reset = null;
    if (!reset || !doc) return;
    const log = doc.getArray<VoiceEntry>(VOICE_LOG);
    const have = new Map(log.toArray().map((e) => [e.id, JSON.stringify(e)]));
    const again: VoiceEntry[] = [];
    const refused: string[] = [];
    let first = true;
    for (const raw of reset.old.getArray<unknown>(VOICE_LOG).toArray()) {
      if (!isVoiceEntry(raw)) {
        const words = wordsOf(raw);
        if (words) refused.push(words);
        first = false;
        continue;
      }
      const held = have.get(raw.id);
      if (held === JSON.stringify(raw)) continue;
      // Another entry already holds its id (ids are short and random): sent again under a new one.
      const entry = held === undefined ? raw : { ...raw, id: randomEntryId() };
      // What this device sees as valid is sent again; what the server refused although it looks
      // valid here (sent again once already, and still the first thing missing) is given back.
      if (!(first && this.#resent.has(entry.id))) again.push(entry);
      else {
        const words = wordsOf(entry);
        if (words) refused.push(words);
      }
      first = false;
    }
    reset.old.destroy();
    this.#resent = new Set(again.map((e) => e.id));
    // Sent again in a few updates (not one per entry: the rate limit counts messages), each well
    // under the message size limit.
    let batch: VoiceEntry[] = [];
    let bytes = 0;
    const flush = () => {
      if (batch.length > 0) log.push(batch);
      batch = [];
      bytes = 0;
    };
    for (const entry of again) {
      const size = JSON.stringify(entry).length * 3;
      if (bytes + size > LIMITS.messageBytes / 4) flush();
      batch.push({ ...entry });
      bytes += size;
    }
    flush();
    if (refused.length > 0) {
      this.refusedWords.push(...refused);
      for (const fn of this.#refusedWordsListeners) fn(refused);
    }
    this.#changed();
  }

  #docFor(id: string): Y.Doc | undefined {
    return id === MEETING_DOC ? this.meetingDoc : this.#voice(id);
  }

  /** One y-protocols message from the server for document `docId`. */
  #receive(docId: string, message: unknown): void {
    const doc = this.#docFor(docId);
    const bytes = bytesOf(message);
    if (!doc || !bytes) return;
    let msg: ReturnType<typeof decodeYMessage>;
    try {
      msg = decodeYMessage(bytes);
    } catch {
      return;
    }
    if (msg.kind === 'step1') {
      if (docId === this.me) this.#send(docId, syncStep2(doc, msg.stateVector));
      else if (docId === MEETING_DOC) {
        if (holdsMore(doc, msg.stateVector)) this.#resetMeetingDoc();
      } else if (holdsMore(doc, msg.stateVector)) {
        // This copy of someone else's voice holds what the server lost in a crash: its writer sends
        // it again, or has started afresh and sends the words anew. Either way the server's copy is
        // the one to hold.
        this.#drop(docId);
        this.#voice(docId);
      }
    } else if (msg.kind === 'awareness') {
      const states = this.typing.get(docId) ?? new Map<number, boolean>();
      for (const e of decodeAwareness(msg.update)) {
        if (e.state === null) states.delete(e.clientID);
        else if (isPresenceState(e.state) && e.state) states.set(e.clientID, e.state.typing);
      }
      this.typing.set(docId, states);
      this.#changed();
    } else {
      Y.applyUpdate(doc, msg.update, REMOTE);
      if (msg.kind === 'step2') this.#pushed.delete(docId);
      if (msg.kind === 'step2' && this.#awaiting.delete(docId)) this.#changed();
      if (msg.kind === 'step2' && docId === this.me) {
        this.#ownAnswered++;
        if (this.#reset && this.#ownAnswered >= this.#reset.awaiting) this.#finishReset();
      }
    }
  }

  /** The server has everything of `docId` up to this state vector on disk. */
  #onSaved(docId: string, sv: unknown): void {
    const bytes = bytesOf(sv);
    if (docId !== this.me || !bytes) return;
    this.#savedSv = Y.decodeStateVector(bytes);
    if (this.keepsCopy && typeof localStorage !== 'undefined') localStorage.setItem(this.#savedKey(), toBase64(bytes));
  }

  #wireSocket(): void {
    const s = this.socket;
    s.on('connect', () => {
      this.status = 'connected';
      this.connectError = null;
      this.#awaiting.clear();
      this.#pushed = new Set();
      // Only for what this device said it holds: the server sends the rest by itself.
      if (this.#announced.has(MEETING_DOC)) {
        this.#awaiting.add(MEETING_DOC);
        this.#send(MEETING_DOC, syncStep1(this.meetingDoc));
      }
      for (const [id, doc] of this.voices) if (this.#announced.has(id)) this.#askFor(id, doc);
      // A reset under way completes with the answer on this connection.
      if (this.#reset) this.#reset.awaiting = this.#ownAsked;
      this.#changed();
    });
    s.on('welcome', (w) => {
      this.#serverCloses = 0;
      this.#unavailable = 0;
      this.closing = null;
      this.me = w.participantId;
      const docs = Array.isArray(w.docs) ? w.docs : [];
      docs.forEach((id, n) => this.#names.name(n, id));
      // The server sends the state of each of these that this device did not say it holds.
      this.#pushed = new Set(docs.filter((d) => typeof d === 'string' && d !== '' && !this.#announced.has(d)));
      for (const d of this.#pushed) {
        this.#awaiting.add(d);
        if (d !== MEETING_DOC) this.#voice(d);
      }
      this.#voice(w.participantId);
      if (w.saved !== undefined) this.#onSaved(w.participantId, w.saved);
      if (this.#typingNow) this.#sendAwareness();
      this.#changed();
    });
    s.on('voice', (n, id) => this.#names.name(n, id));
    s.on('y', (...args) => {
      for (const [tag, message] of yPairs(args)) {
        const id = this.docOf(tag);
        if (id !== undefined) this.#receive(id, message);
      }
    });
    s.on('saved', (docId, sv) => {
      this.#onSaved(docId, sv);
      this.#changed();
    });
    s.on('erased', (docId) => {
      if (docId === MEETING_DOC) {
        void this.clearLocal();
        for (const id of [...this.voices.keys()]) this.#drop(id);
      } else {
        this.#refreshed.add(docId);
        this.#drop(docId);
        this.#voice(docId);
      }
    });
    s.on('closing', (reason) => {
      // The server is about to disconnect this connection on purpose: the page can say why. (The
      // one retry after a server-side close still runs; its handshake answers for good.)
      this.closing = reason;
      this.#changed();
    });
    s.on('presence', (here) => {
      this.here = here;
      this.#changed();
    });
    s.on('refused', (r) => {
      // Said in the console for whoever looks into a device's trouble (no words, only the code).
      console.warn(`polyphony: refused (${r.code}) for ${r.doc === this.me ? 'own voice' : r.doc}`);
      this.refusals.push(r);
      if (this.refusals.length > 20) this.refusals.shift();
      // Refusals that arrive while a reset waits for the server's state are of changes sent
      // before it (one ordered connection): the reset already takes care of them.
      if (r.doc === this.me && RESET_ON.has(r.code)) this.#resetVoice();
      this.#changed();
    });
    s.on('storage', (status) => {
      this.storage = status;
      this.#changed();
    });
    s.on('disconnect', (reason) => {
      // The server closed this connection (a revoked link, a removal, an erasure): Socket.IO
      // does not retry by itself then. Try once more, so the handshake says plainly why.
      if (reason === 'io server disconnect' && !this.#closed) {
        // "restarting": the meeting moved to another instance (or this one is stopping): at once,
        // spread a little so that a whole meeting does not arrive in the same millisecond.
        const delay =
          this.closing === 'restarting'
            ? 150 + Math.random() * 600
            : Math.min(30_000, 1000 * 2 ** this.#serverCloses++);
        this.#retry = setTimeout(() => {
          if (!this.#closed && !this.socket.connected) this.socket.connect();
        }, delay);
      }
      this.status = 'offline';
      this.#ownAsked = 0;
      this.#ownAnswered = 0;
      this.typing.clear();
      this.here = [];
      this.#changed();
    });
    s.on('connect_error', (err: Error & { data?: { code?: string } }) => {
      if (err.data?.code === 'unavailable' && !this.#closed) {
        // The server cannot serve the meeting just now (another instance is taking it over, the
        // database is away, its storage needs repair): say so, and try again by itself.
        const delay = Math.min(8000, 400 * 2 ** this.#unavailable++) * (0.75 + Math.random() / 2);
        clearTimeout(this.#retry);
        this.#retry = setTimeout(() => {
          if (!this.#closed && !this.socket.connected) this.socket.connect();
        }, delay);
      }
      if (err.data?.code) {
        this.status = 'refused';
        this.connectError = { code: err.data.code, message: err.message };
      } else {
        this.status = 'offline';
      }
      this.#changed();
    });
  }
}
