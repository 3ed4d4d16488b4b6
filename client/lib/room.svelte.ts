/**
 * The room's reactive state: a thin Svelte 5 wrapper around `MeetingConnection` (the network
 * module, which stays plain TypeScript). Every change the connection reports bumps a counter;
 * what the screen shows is derived from it, and the record is only folded again when a document
 * actually changed (not on presence or "is writing…" changes).
 */
import { createContext } from 'svelte';
import type { ControlEvent } from './connection.js';
import { MeetingConnection } from './connection.js';
import type { ClientToServerEvents } from '../../shared/protocol.js';
import {
  VOICE_LOG,
  buildRecord,
  type ItemView,
  type MeetingLogs,
  type MeetingEvent,
  type MeetingState,
  type Person,
  type RecordView,
  type Stance,
} from '../../shared/record.js';
import { i18n } from '../i18n/index.svelte.js';
import { forgetMeeting, keepsCopy, localMeeting, rememberMeeting, type LocalMeeting } from './local.js';

export interface PersonRow {
  id: string;
  person: Person;
  name: string;
  here: boolean;
  writing: boolean;
}

export class RoomState {
  readonly conn: MeetingConnection;
  #tick = $state(0);
  #local: LocalMeeting = $state({});
  #unsubscribe: () => void;
  #ready = $state(false);
  #recordErased = $state(false);
  /** Removed from this device: remember nothing more about it here. */
  #forgotten = false;

  constructor(readonly meetingId: string) {
    this.#local = localMeeting(meetingId);
    const me = this.#local.participantId;
    // A copy on this device (the person's choice when joining), and who I am from an earlier
    // visit: then words can be written and kept while offline, even across a reload.
    this.conn = new MeetingConnection({
      meetingId,
      persist: keepsCopy(meetingId),
      ...(me ? { me, as: me } : {}),
    });
    this.#unsubscribe = this.conn.subscribe(() => {
      this.#tick++;
      // Remember who I am in this meeting the first time the server says so.
      if (this.conn.me && this.conn.me !== this.#local.participantId && !this.#forgotten) {
        this.remember({ participantId: this.conn.me });
      }
    });
    this.conn.socket.on('erased', (doc) => {
      if (doc === 'meeting') this.#markErased();
    });
    void this.conn.ready.finally(() => {
      this.#ready = true;
    });
  }

  #markErased(): void {
    this.#recordErased = true;
    this.#forgotten = true;
    forgetMeeting(this.meetingId);
    this.#local = {};
  }

  // ── connection ─────────────────────────────────────────────────────────────────────

  get status() {
    void this.#tick;
    return this.conn.status;
  }
  get connectError() {
    void this.#tick;
    return this.conn.connectError;
  }
  /** Why the server closed this device's connection on purpose (removed, link replaced…), if it did. */
  get closing() {
    void this.#tick;
    return this.conn.closing;
  }
  get me(): string | null {
    void this.#tick;
    return this.conn.me;
  }
  get saved(): boolean {
    void this.#tick;
    return this.conn.saved;
  }
  get storage() {
    void this.#tick;
    return this.conn.storage;
  }
  /** Connected, and everything the server had when this device asked has arrived. */
  get synced(): boolean {
    void this.#tick;
    return this.conn.synced;
  }
  get refusals() {
    void this.#tick;
    return this.conn.refusals;
  }
  /** This device's copy (if any) has been read. */
  get ready(): boolean {
    return this.#ready;
  }
  /** Whether this device keeps a copy of the meeting. */
  get keepsCopy(): boolean {
    void this.#tick;
    return this.conn.keepsCopy;
  }
  /** The whole record was erased at the request of the person it is about. */
  get recordErased(): boolean {
    return this.#recordErased;
  }

  // ── the meeting document and the record ─────────────────────────────────────────────

  /** Changes only when a document's content changed: the record is folded again only then. */
  readonly #docKey = $derived.by(() => {
    void this.#tick;
    let key = `${this.conn.orderLength}|${this.conn.events.length}|${JSON.stringify(this.conn.state)}`;
    for (const [id, doc] of this.conn.voices) key += `|${id}:${doc.getArray('log').length}`;
    return key;
  });

  readonly #peopleJson = $derived.by(() => {
    void this.#tick;
    return JSON.stringify(this.conn.people.toJSON());
  });

  /**
   * Every voice's log, as plain data. Erased voices are left out even when a copy of them is still
   * on this device (a phone that was offline while they were erased).
   */
  readonly logs: ReadonlyMap<string, readonly unknown[]> = $derived.by(() => {
    void this.#docKey;
    // eslint-disable-next-line svelte/prefer-svelte-reactivity -- a snapshot, never mutated
    const logs = new Map<string, unknown[]>();
    const people = this.conn.people;
    for (const [id, doc] of this.conn.voices) {
      if (people.get(id)?.erased) continue;
      logs.set(id, doc.getArray<unknown>(VOICE_LOG).toArray());
    }
    return logs;
  });

  /** The server's order marks and meeting events: with `logs`, all a replay needs. */
  readonly meetingLogs: MeetingLogs = $derived.by(() => {
    void this.#docKey;
    return { order: this.conn.order, events: this.conn.events };
  });

  readonly record: RecordView = $derived(buildRecord(this.meetingLogs, this.logs));

  readonly state: Partial<MeetingState> = $derived.by(() => {
    void this.#docKey;
    return this.conn.state;
  });

  /** Something of the meeting is here: from the server, or from this device's copy. */
  readonly loaded = $derived(this.state.openedAt !== undefined);

  readonly events: MeetingEvent[] = $derived.by(() => {
    void this.#docKey;
    return this.conn.events;
  });

  /** Everyone who joined, in the order they joined. */
  readonly people: ReadonlyMap<string, Person> = $derived.by(() => {
    const all = JSON.parse(this.#peopleJson) as Record<string, Person>;
    // A fresh snapshot on every change, never mutated: no need for SvelteMap.
    // eslint-disable-next-line svelte/prefer-svelte-reactivity
    return new Map(Object.entries(all).sort(([, a], [, b]) => a.joinedAt - b.joinedAt));
  });

  readonly here: ReadonlySet<string> = $derived.by(() => {
    void this.#tick;
    // eslint-disable-next-line svelte/prefer-svelte-reactivity -- a snapshot, never mutated
    return new Set(this.conn.here);
  });

  readonly rows: PersonRow[] = $derived.by(() => {
    void this.#tick;
    return [...this.people].map(([id, person]) => ({
      id,
      person,
      name: personName(person),
      here: this.here.has(id),
      writing: this.conn.writing(id),
    }));
  });

  readonly ended = $derived(this.state.status === 'ended');
  readonly isFacilitator = $derived(this.me !== null && (this.state.facilitators ?? []).includes(this.me));
  /** Am I the person this meeting is about? (Only they may ask to erase the whole record.) */
  readonly aboutMe = $derived(this.me !== null && this.people.get(this.me)?.aboutMe === true);
  /** My words were erased at my request: my voice takes no more writes. */
  readonly erasedMe = $derived(this.me !== null && this.people.get(this.me)?.erased === true);
  /** Can I write now? (Offline is fine: words are kept and sent later.) */
  readonly canWrite = $derived(
    this.me !== null &&
      !this.ended &&
      !this.#recordErased &&
      this.status !== 'refused' &&
      !this.people.get(this.me)?.removed &&
      !this.erasedMe,
  );

  person(id: string): Person | undefined {
    return this.people.get(id);
  }

  name(id: string): string {
    return personName(this.people.get(id));
  }

  item(ref: string): ItemView | undefined {
    return this.record.byRef.get(ref);
  }

  // ── what this device remembers ──────────────────────────────────────────────────────

  get local() {
    return this.#local;
  }

  remember(patch: Parameters<typeof rememberMeeting>[1]): void {
    rememberMeeting(this.meetingId, patch);
    this.#local = localMeeting(this.meetingId);
  }

  /**
   * Leave the meeting on this device. With `remove`, nothing of it stays here: the copy of the
   * record, its links, the draft (a shared or borrowed phone).
   */
  async leave(remove: boolean): Promise<void> {
    if (!remove) return;
    this.#forgotten = true;
    await this.conn.clearLocal();
    forgetMeeting(this.meetingId);
    this.#local = {};
  }

  /** The personal token of someone this device added (who has no device of their own). */
  tokenFor(participantId: string): string | undefined {
    return this.#local.added?.[participantId];
  }

  // ── writing (always into my own voice document) ─────────────────────────────────────

  say(
    text: string,
    opts: { re?: string; view?: 'answer' | 'different'; proposal?: boolean; forPerson?: string } = {},
  ): string {
    return this.conn.say(text, opts);
  }
  amend(entryId: string, text: string): string {
    return this.conn.amend(entryId, text);
  }
  withdraw(entryId: string): string {
    return this.conn.withdraw(entryId);
  }
  confirm(ref: string): string {
    return this.conn.confirm(ref);
  }
  correct(ref: string, text: string): string {
    return this.conn.correct(ref, text);
  }
  interpret(original: string, speaker: string, text: string): string {
    return this.conn.interpret(original, speaker, text);
  }
  position(proposalRef: string, stance: Stance, text: string, forPerson?: string): string {
    return this.conn.position(proposalRef, stance, text, forPerson);
  }
  decide(entryId: string, outcome: 'decided' | 'open', text: string): string {
    return this.conn.decide(entryId, outcome, text);
  }
  setTyping(typing: boolean): void {
    this.conn.setTyping(typing);
  }
  request<E extends ControlEvent>(event: E, input: Parameters<ClientToServerEvents[E]>[0]) {
    return this.conn.request(event, input);
  }

  /**
   * The reference of the latest position a scribe recorded for `person` on a proposal (the
   * record's view of positions does not carry it; the writer's log does).
   */
  positionRef(proposalRef: string, writer: string, person: string): string | null {
    const log = this.conn.log(writer);
    for (let i = log.length - 1; i >= 0; i--) {
      const e = log[i];
      if (e && e.t === 'position' && e.of === proposalRef && (e.for ?? writer) === person) return `${writer}/${e.id}`;
    }
    return null;
  }

  destroy(): void {
    this.#unsubscribe();
    this.conn.close();
  }
}

/** The room, for every component inside it. */
export const [getRoom, setRoom] = createContext<RoomState>();

/** Entry id of a reference (`voice/id` → `id`). */
export function entryIdOf(ref: string): string {
  return ref.slice(ref.indexOf('/') + 1);
}

/** How a person is called on screen: their own name or relation, else a plain word in the interface language. */
export function personName(person: Person | undefined): string {
  const t = i18n.t.person;
  if (!person) return t.someone;
  if (person.erased) return t.erased;
  return person.name.trim() || person.relation.trim() || t.noName;
}
