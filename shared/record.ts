/**
 * The record model, shared by client and server.
 *
 * A meeting's record is the merge of several Yjs documents:
 * - one *voice* document per participant, writable only by that participant. It holds one
 *   append-only Y.Array named `log` of entries (say, amend, withdraw…). Entries point at other
 *   entries by reference (`voice/id`), never by copying or changing them. Nothing is ever deleted
 *   from a voice log: an amendment or withdrawal is a new entry, so the history stays visible.
 * - one *meeting* document (id `meeting`), written only by the server: who is in the meeting,
 *   whether it is open, and the server-observed order of every entry (phones' clocks are often
 *   wrong, so order on screen never depends on them).
 *
 * `buildRecord` folds those documents into what the screen (and exports) show.
 */
import * as v from 'valibot';
import { ENTRY_ID_PATTERN, ID_PATTERN, refOf } from './ids.js';
import { LIMITS } from './limits.js';

/** Root type names inside the documents. */
export const VOICE_LOG = 'log';
export const MEETING_PEOPLE = 'people';
export const MEETING_ORDER = 'order';
export const MEETING_STATE = 'state';

const EntryId = v.pipe(v.string(), v.regex(ENTRY_ID_PATTERN));
const Ref = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{22}\/[A-Za-z0-9_-]{6,22}$/));
const Text = v.pipe(v.string(), v.trim(), v.minLength(1), v.maxLength(LIMITS.textChars));
/** Milliseconds since the epoch on the writer's own device (shown, never used for order). */
const At = v.pipe(v.number(), v.integer(), v.minValue(0));

const Stance = v.picklist(['agree', 'disagree', 'unsure', 'unstated']);
const ParticipantId = v.pipe(v.string(), v.regex(ID_PATTERN));

export const SayEntrySchema = v.strictObject({
  t: v.literal('say'),
  id: EntryId,
  text: Text,
  at: At,
  /** The entry this one answers. */
  re: v.optional(Ref),
  /** How it answers: a response, or a different view that stands beside what it answers. */
  view: v.optional(v.picklist(['answer', 'different'])),
  /** A proposal for the meeting to decide on together. */
  proposal: v.optional(v.literal(true)),
  /** Scribe: these are the words of this participant, written down by the writer of this log. */
  for: v.optional(ParticipantId),
  /**
   * Interpreter: these words interpret the entry `interprets` (another person's words, in another
   * language). Shown with the original, never instead of it; `for` names the original's speaker,
   * who can confirm or correct it as with scribed words (SPEC 18).
   */
  interprets: v.optional(Ref),
});
export const AmendEntrySchema = v.strictObject({
  t: v.literal('amend'),
  id: EntryId,
  /** Id of one's own earlier `say` entry. */
  of: EntryId,
  text: Text,
  at: At,
});
export const WithdrawEntrySchema = v.strictObject({
  t: v.literal('withdraw'),
  id: EntryId,
  of: EntryId,
  at: At,
});
/** The speaker confirms words a scribe wrote for them (`of` is in the scribe's log). */
export const ConfirmEntrySchema = v.strictObject({
  t: v.literal('confirm'),
  id: EntryId,
  of: Ref,
  at: At,
});
/** The speaker corrects words a scribe wrote for them; the correction stands. */
export const CorrectEntrySchema = v.strictObject({
  t: v.literal('correct'),
  id: EntryId,
  of: Ref,
  text: Text,
  at: At,
});
/** One's own position on a proposal (or, with `for`, a person's position written by a scribe). */
export const PositionEntrySchema = v.strictObject({
  t: v.literal('position'),
  id: EntryId,
  of: Ref,
  stance: Stance,
  text: v.optional(v.pipe(v.string(), v.maxLength(LIMITS.textChars))),
  at: At,
  for: v.optional(ParticipantId),
});
/** The one who proposed notes whether the meeting decided (default: not decided yet). */
export const DecideEntrySchema = v.strictObject({
  t: v.literal('decide'),
  id: EntryId,
  of: EntryId,
  outcome: v.picklist(['decided', 'open']),
  text: v.optional(v.pipe(v.string(), v.maxLength(LIMITS.textChars))),
  at: At,
});
export const VoiceEntrySchema = v.variant('t', [
  SayEntrySchema,
  AmendEntrySchema,
  WithdrawEntrySchema,
  ConfirmEntrySchema,
  CorrectEntrySchema,
  PositionEntrySchema,
  DecideEntrySchema,
]);
/**
 * What each kind of entry is, for every part that must know beyond the fold (erasure, who has
 * words in the record): one table. Adding a kind is its schema above, a row here, a case in
 * `buildRecord` (its switch is exhaustive), and the screen.
 */
export interface EntryKind {
  /** May carry `for`: words or a position of someone else, written down by the voice's owner. */
  forPerson: boolean;
  /** `of` names an entry of the same voice (amending, withdrawing, deciding one's own). */
  ofOwn: boolean;
  /** `of` is a ref the writer confirms or corrects as theirs (SPEC 11). */
  confirms: boolean;
}
export const ENTRY_KINDS = {
  say: { forPerson: true, ofOwn: false, confirms: false },
  amend: { forPerson: false, ofOwn: true, confirms: false },
  withdraw: { forPerson: false, ofOwn: true, confirms: false },
  confirm: { forPerson: false, ofOwn: false, confirms: true },
  correct: { forPerson: false, ofOwn: false, confirms: true },
  position: { forPerson: true, ofOwn: false, confirms: false },
  decide: { forPerson: false, ofOwn: true, confirms: false },
} as const satisfies Record<v.InferOutput<typeof VoiceEntrySchema>['t'], EntryKind>;

/** Whom an entry is written for (another person), if anyone. */
export function writtenFor(e: VoiceEntry): string | undefined {
  return ENTRY_KINDS[e.t].forPerson ? (e as { for?: string }).for : undefined;
}
/** The entry of the same voice an entry refers to, if it is of that kind. */
export function ownTarget(e: VoiceEntry): string | undefined {
  return ENTRY_KINDS[e.t].ofOwn ? (e as { of: string }).of : undefined;
}
/** The ref an entry confirms or corrects as its writer's own, if it is of that kind. */
export function confirmedRef(e: VoiceEntry): string | undefined {
  return ENTRY_KINDS[e.t].confirms ? (e as { of: string }).of : undefined;
}

export type SayEntry = v.InferOutput<typeof SayEntrySchema>;
export type AmendEntry = v.InferOutput<typeof AmendEntrySchema>;
export type WithdrawEntry = v.InferOutput<typeof WithdrawEntrySchema>;
export type ConfirmEntry = v.InferOutput<typeof ConfirmEntrySchema>;
export type CorrectEntry = v.InferOutput<typeof CorrectEntrySchema>;
export type PositionEntry = v.InferOutput<typeof PositionEntrySchema>;
export type DecideEntry = v.InferOutput<typeof DecideEntrySchema>;
export type VoiceEntry = v.InferOutput<typeof VoiceEntrySchema>;
export type Stance = v.InferOutput<typeof Stance>;

/** A participant as everyone in the meeting sees them: self-described, all optional. */
export interface Person {
  name: string;
  relation: string;
  /** "This meeting is about me": the person at the centre. */
  aboutMe: boolean;
  /** Server time of joining. */
  joinedAt: number;
  /** Set when another participant added this person (someone without a device of their own). */
  addedBy?: string;
  /** Set when the facilitator removed this person; their words stay in the record, marked. */
  removed?: boolean;
  /** Set when this person's words were erased at their request (their name is gone too). */
  erased?: boolean;
  /**
   * This person's number in the meeting (1, 2, 3… in order of joining, never reused), which names
   * their voice in the order marks. Absent only in a meeting the server has not loaded since
   * numbers were introduced.
   */
  n?: number;
}

/** The server's note of when it first received an entry (as every reader sees it). */
export interface OrderMark {
  /** The voice (participant id). */
  v: string;
  id: string;
  /** Server time (ms since the epoch). */
  at: number;
}

/**
 * An order mark as the meeting document stores it: `[n, id, at − openedAt]`, the voice by its
 * person's number and the time from the meeting's opening (small integers, a few bytes each, where
 * the object form spent 74 bytes a mark on the wire). Meetings from before hold `OrderMark` objects;
 * both are read.
 */
export type StoredMark = readonly [n: number, id: string, sinceOpened: number];

/** The stored form of a mark, given the voice's number and the meeting's opening time. */
export function storedMark(n: number, id: string, at: number, openedAt: number): StoredMark {
  return [n, id, at - openedAt];
}

/**
 * The order marks as every reader sees them, from what the meeting document stores: `numbers`
 * maps a person's number to their id (see `voiceNumbers`). A mark naming no known voice is skipped
 * (the server writes none; this guards foreign data), so the order is the same on every device
 * that holds the same document.
 */
export function readOrder(
  raw: readonly unknown[],
  numbers: ReadonlyMap<number, string>,
  openedAt: number,
): OrderMark[] {
  const out: OrderMark[] = [];
  for (const m of raw) {
    if (Array.isArray(m)) {
      const [n, id, since] = m as unknown[];
      const v = typeof n === 'number' ? numbers.get(n) : undefined;
      if (v !== undefined && typeof id === 'string' && typeof since === 'number')
        out.push({ v, id, at: openedAt + since });
    } else if (m !== null && typeof m === 'object') {
      const { v, id, at } = m as Partial<OrderMark>;
      if (typeof v === 'string' && typeof id === 'string' && typeof at === 'number') out.push({ v, id, at });
    }
  }
  return out;
}

/** Person number → participant id, from the meeting's people. */
export function voiceNumbers(people: Iterable<[string, Person]>): Map<number, string> {
  const out = new Map<number, string>();
  for (const [id, p] of people) if (typeof p.n === 'number') out.set(p.n, id);
  return out;
}

/** What was agreed about the next meeting when this one closed. */
export interface NextMeeting {
  /** false: "not agreed yet" — then `arranger` says who will arrange it. */
  agreed: boolean;
  /** Local date and time, `YYYY-MM-DDTHH:MM`, or empty. */
  when: string;
  where: string;
  who: string;
  arranger: string;
}

/** Something that happened in the meeting, written by the server for everyone to see. */
export type MeetingEvent = {
  id: string;
  /** Server time. */
  at: number;
  /** How many order marks existed when it happened: entries at index >= seq came after it. */
  seq: number;
  /** Participant who did it. */
  by: string;
} & (
  | { t: 'locked' }
  | { t: 'unlocked' }
  | { t: 'ended'; next: NextMeeting | null }
  | { t: 'facilitation'; to: string; mode: 'hand' | 'share' }
  | { t: 'removed'; who: string }
  | { t: 'person-added'; who: string }
  | { t: 'reflecting-started' }
  | { t: 'reflecting-ended' }
  | { t: 'response-closed'; responded: boolean }
  /** `who` said (or stopped saying) that this meeting is about them: stated openly, for everyone (SPEC 15). */
  | { t: 'about'; who: string; aboutMe: boolean }
);
export type MeetingEventType = MeetingEvent['t'];

export type Phase = 'open' | 'reflecting' | 'response';

export interface NetworkInfo {
  name: string;
  /** When the network first contacted the service. */
  firstContactAt: number;
  /** When its first meeting opened (the aim: within 24 hours of first contact). */
  firstMeetingAt: number;
}

export interface MeetingState {
  openedAt: number;
  status: 'open' | 'ended';
  locked: boolean;
  facilitators: string[];
  /** Whether a reflecting conversation, or the network's response to one, is under way. */
  phase: Phase;
  network: NetworkInfo;
  /** The network's meeting before this one, and after it. */
  previous: string | null;
  next: string | null;
  /**
   * A request to erase the whole record (SPEC 16), by a person the meeting was about: shown to
   * everyone; the record goes once every other person whose words are in it has erased their own.
   */
  erasure?: { by: string; at: number } | null;
}

export const MEETING_EVENTS = 'events';

export interface Version {
  text: string;
  /** Who wrote this version (the scribe, or the speaker correcting). */
  by: string;
  /** Server time it arrived (null while not yet received by the server). */
  at: number | null;
  /** Writer's device time. */
  writtenAt: number;
}

export interface PositionView {
  /** The entry that set the current position (what the person confirms, if a scribe wrote it). */
  ref: string;
  person: string;
  stance: Stance;
  text: string;
  /** Who recorded it: the person, or a scribe for them. */
  writer: string;
  /** Recorded by the person themself, or confirmed by them. */
  confirmed: boolean;
  at: number | null;
  /** Every position this person has had on the proposal, oldest first (the current one last). */
  history: Array<{ stance: Stance; text: string; writer: string; at: number | null }>;
}

export interface Segment {
  kind: 'reflecting' | 'response';
  /** Id of the `reflecting-started` event this belongs to. */
  reflection: string;
}

export interface ItemView {
  ref: string;
  /** Whose voice document holds it (who wrote it down). */
  voice: string;
  /** Whose words these are: the writer, or the person a scribe wrote them for. */
  speaker: string;
  kind: 'contribution' | 'proposal';
  versions: Version[];
  /** Current words: the latest version. */
  text: string;
  withdrawn: { at: number | null; writtenAt: number } | null;
  /** Server time it first arrived; null while only on this device. */
  at: number | null;
  /** Writer's device time (shown when it differs from `at`: written offline). */
  writtenAt: number;
  /** Index of its order mark (the server counts every entry); null while not yet received. */
  seq: number | null;
  /**
   * Its place in the record's one sequence of items (answers included) and meeting events, as they
   * happened: 0, 1, 2… shared with `RecordView.eventPos`. Items not yet received come last.
   */
  pos: number;
  re: string | null;
  view: 'answer' | 'different' | null;
  answers: ItemView[];
  /** An interpretation of the item with this ref (SPEC 18), or null. */
  interprets: string | null;
  /** Interpretations of this item, in server order: shown with it, never instead of it. */
  interpretations: ItemView[];
  /** Written by a scribe for `speaker`: unconfirmed until the speaker confirms or corrects. */
  scribed: { status: 'unconfirmed' | 'confirmed' | 'corrected'; at: number | null } | null;
  segment: Segment | null;
  /** Proposals: everyone's current position, in the order they were first given. */
  positions: PositionView[];
  decision: { outcome: 'decided' | 'open'; text: string; at: number | null } | null;
}

export type TimelineEntry =
  { kind: 'item'; item: ItemView; pos: number } | { kind: 'event'; event: MeetingEvent; pos: number };

export interface RecordView {
  /** Top-level contributions in server-observed order; not-yet-received ones last. */
  items: ItemView[];
  /** Top-level items and meeting events, interleaved in the order they happened (by `pos`). */
  timeline: TimelineEntry[];
  /** Each meeting event's place (by id) in the same sequence as `ItemView.pos`. */
  eventPos: Map<string, number>;
  /** Every item by reference, answers included. */
  byRef: Map<string, ItemView>;
}

/** The display name of a person: their own words, or a neutral stand-in. */
export function displayName(
  person: Person | undefined,
  names: { someone: string; erased: string; noName: string } = {
    someone: 'Someone',
    erased: 'Someone (erased)',
    noName: 'Someone (no name given)',
  },
): string {
  if (!person) return names.someone;
  if (person.erased) return names.erased;
  return person.name.trim() || person.relation.trim() || names.noName;
}

/** How far a replay can go: one step per entry the server received. */
export function replaySteps(meeting: MeetingLogs): number {
  return meeting.order.length;
}

/** The replay step showing the record as it stood at server time `at`. */
export function stepAt(meeting: MeetingLogs, at: number): number {
  let lo = 0;
  let hi = meeting.order.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (meeting.order[mid]!.at <= at) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export interface MeetingLogs {
  order: readonly OrderMark[];
  events: readonly MeetingEvent[];
}

/**
 * Fold the documents of a meeting into the record.
 * `voices` gives each voice's log entries in document order. Entries that do not match the
 * schema are ignored (the server refuses them; this guards old or foreign data).
 * Everything that depends on "which came first" uses the server-observed order, so every
 * device computes the same record.
 */
export function buildRecord(
  meeting: MeetingLogs,
  voices: ReadonlyMap<string, readonly unknown[]>,
  options: { upTo?: number } = {},
): RecordView {
  const { upTo } = options;
  // Replay: the record as it stood when the server had received the first `upTo` entries.
  const order = upTo === undefined ? meeting.order : meeting.order.slice(0, upTo);
  const events = upTo === undefined ? meeting.events : meeting.events.filter((e) => e.seq <= upTo);
  const seqOf = new Map<string, number>();
  order.forEach((mark, i) => {
    const r = refOf(mark.v, mark.id);
    if (!seqOf.has(r)) seqOf.set(r, i);
  });
  const arrived = (r: string): number | null => {
    const i = seqOf.get(r);
    return i === undefined ? null : (order[i]?.at ?? null);
  };

  // Every valid entry, with its place in server order (entries not yet received go last).
  const entries: Array<{ voice: string; entry: VoiceEntry; pos: number }> = [];
  let pending = 0;
  for (const [voice, log] of voices) {
    for (const raw of log) {
      const entry = validEntry(raw);
      if (!entry) continue;
      const seq = seqOf.get(refOf(voice, entry.id));
      if (seq === undefined && upTo !== undefined) continue;
      entries.push({ voice, entry, pos: seq ?? order.length + pending++ });
    }
  }
  entries.sort((a, b) => a.pos - b.pos);

  const windows = segmentWindows(events);
  const segmentAt = (pos: number): Segment | null => {
    for (const w of windows) if (pos >= w.from && pos < w.to) return { kind: w.kind, reflection: w.reflection };
    return null;
  };

  const byRef = new Map<string, ItemView>();
  const positionEntries = new Map<string, { person: string; item: ItemView; writer: string }>();
  for (const { voice, entry, pos } of entries) {
    const ref = refOf(voice, entry.id);
    const at = arrived(ref);
    switch (entry.t) {
      case 'say': {
        if (byRef.has(ref)) break;
        const speaker = entry.for ?? voice;
        byRef.set(ref, {
          ref,
          voice,
          speaker,
          kind: entry.proposal ? 'proposal' : 'contribution',
          versions: [{ text: entry.text, by: voice, at, writtenAt: entry.at }],
          text: entry.text,
          withdrawn: null,
          at,
          writtenAt: entry.at,
          seq: seqOf.get(ref) ?? null,
          pos: 0,
          re: entry.re ?? null,
          view: entry.re ? (entry.view ?? 'answer') : null,
          answers: [],
          interprets: entry.interprets ?? null,
          interpretations: [],
          scribed: entry.for && entry.for !== voice ? { status: 'unconfirmed', at: null } : null,
          segment: segmentAt(pos),
          positions: [],
          decision: null,
        });
        break;
      }
      case 'amend':
      case 'withdraw': {
        // Only one's own items; and a scribe's words are fixed once the speaker confirmed or corrected them.
        const item = byRef.get(refOf(voice, entry.of));
        if (!item || item.voice !== voice || (item.scribed && item.scribed.status !== 'unconfirmed')) break;
        if (entry.t === 'amend') {
          item.versions.push({ text: entry.text, by: voice, at, writtenAt: entry.at });
          item.text = entry.text;
        } else {
          item.withdrawn ??= { at, writtenAt: entry.at };
        }
        break;
      }
      case 'confirm':
      case 'correct': {
        const item = byRef.get(entry.of);
        if (item && item.scribed && item.speaker === voice) {
          if (entry.t === 'confirm') {
            if (item.scribed.status === 'unconfirmed') item.scribed = { status: 'confirmed', at };
          } else {
            item.versions.push({ text: entry.text, by: voice, at, writtenAt: entry.at });
            item.text = entry.text;
            item.scribed = { status: 'corrected', at };
          }
          break;
        }
        const position = entry.t === 'confirm' ? positionEntries.get(entry.of) : undefined;
        if (position && position.person === voice) {
          const current = position.item.positions.find((p) => p.person === voice);
          if (current && current.ref === entry.of) current.confirmed = true;
        }
        break;
      }
      case 'position': {
        const item = byRef.get(entry.of);
        if (!item || item.kind !== 'proposal') break;
        const person = entry.for ?? voice;
        const text = entry.text?.trim() ?? '';
        positionEntries.set(ref, { person, item, writer: voice });
        const step = { stance: entry.stance, text, writer: voice, at };
        const current = item.positions.find((p) => p.person === person);
        if (current) {
          Object.assign(current, { ref, stance: entry.stance, text, writer: voice, confirmed: voice === person, at });
          current.history.push(step);
        } else {
          item.positions.push({ ref, person, ...step, confirmed: voice === person, history: [step] });
        }
        break;
      }
      case 'decide': {
        const item = byRef.get(refOf(voice, entry.of));
        if (item && item.kind === 'proposal' && item.voice === voice) {
          item.decision = { outcome: entry.outcome, text: entry.text?.trim() ?? '', at };
        }
        break;
      }
      default: {
        // Adding an entry kind: the schema above, this fold, and the screen. Nothing else reads kinds
        // but erasure (server/meetings/meeting.ts) and the exports, which read what the fold says.
        const unknown: never = entry;
        void unknown;
      }
    }
  }

  const items: ItemView[] = [];
  for (const item of byRef.values()) {
    const original = item.interprets ? byRef.get(item.interprets) : undefined;
    if (original && original !== item && !original.interprets) {
      original.interpretations.push(item);
      continue;
    }
    const target = item.re ? byRef.get(item.re) : undefined;
    if (target && target !== item) target.answers.push(item);
    else items.push(item);
  }

  // One sequence of every item and event: an event with `seq` s happened when s order marks
  // existed, so it comes before the item whose mark is at index s (and after those before it).
  const sortedEvents = [...events].sort((a, b) => a.seq - b.seq);
  const eventPos = new Map<string, number>();
  let pos = 0;
  let e = 0;
  for (const item of byRef.values()) {
    const at = item.seq ?? Number.POSITIVE_INFINITY;
    while (e < sortedEvents.length && sortedEvents[e]!.seq <= at) eventPos.set(sortedEvents[e++]!.id, pos++);
    item.pos = pos++;
  }
  while (e < sortedEvents.length) eventPos.set(sortedEvents[e++]!.id, pos++);

  const timeline: TimelineEntry[] = [
    ...items.map((item) => ({ kind: 'item' as const, item, pos: item.pos })),
    ...sortedEvents.map((event) => ({ kind: 'event' as const, event, pos: eventPos.get(event.id)! })),
  ].sort((a, b) => a.pos - b.pos);
  return { items, timeline, byRef, eventPos };
}

/** Keys that mean something to JavaScript itself: never part of the record's data. */
const RESERVED_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Whether `x` is plain JSON data: null, strings, booleans, finite numbers, arrays and objects whose
 * prototype is the plain one, holding only own, enumerable data properties, none of them named
 * `__proto__`, `constructor` or `prototype`, at any depth (SPEC 5). lib0's decoder turns an encoded
 * `__proto__` key into the object's prototype (and one holding `null` into a null prototype), so any
 * other prototype means the data was crafted to be read through it; nothing here reads inherited
 * properties.
 */
export function isPlainData(x: unknown, depth = 0): boolean {
  if (x === null || typeof x === 'string' || typeof x === 'boolean') return true;
  if (typeof x === 'number') return Number.isFinite(x);
  if (typeof x !== 'object' || depth > 16) return false;
  const proto: unknown = Object.getPrototypeOf(x);
  if (Array.isArray(x)) {
    if (proto !== Array.prototype) return false;
  } else if (proto !== Object.prototype) return false;
  for (const key of Reflect.ownKeys(x)) {
    if (typeof key !== 'string' || RESERVED_KEYS.has(key)) return false;
    const d = Object.getOwnPropertyDescriptor(x, key);
    if (Array.isArray(x) && key === 'length') continue;
    if (!d || !('value' in d) || !d.enumerable || !isPlainData(d.value, depth + 1)) return false;
  }
  return true;
}

/** Whether `raw` is a record entry: plain data (own properties only) of the schema's shape. */
export function isVoiceEntry(raw: unknown): raw is VoiceEntry {
  return isPlainData(raw) && v.is(VoiceEntrySchema, raw);
}

/**
 * Entries in a Yjs document never change once written, so each is checked against the schema
 * once: the record is rebuilt on every change, and re-checking 10,000 entries each time would
 * cost a phone most of a frame.
 */
const checked = new WeakMap<object, VoiceEntry | null>();
function validEntry(raw: unknown): VoiceEntry | null {
  if (typeof raw !== 'object' || raw === null) return null;
  let entry = checked.get(raw);
  if (entry === undefined) {
    // Own properties only: an entry read through a crafted prototype is no entry (SPEC 5).
    const parsed = isPlainData(raw) ? v.safeParse(VoiceEntrySchema, raw) : { success: false as const };
    entry = parsed.success ? parsed.output : null;
    checked.set(raw, entry);
  }
  return entry;
}

/** Reflecting conversations and the network's responses, as ranges of server order. */
function segmentWindows(events: readonly MeetingEvent[]): Array<Segment & { from: number; to: number }> {
  const out: Array<Segment & { from: number; to: number }> = [];
  let open: (Segment & { from: number; to: number }) | null = null;
  const close = (seq: number) => {
    if (open) open.to = seq;
    open = null;
  };
  for (const ev of [...events].sort((a, b) => a.seq - b.seq)) {
    if (ev.t === 'reflecting-started') {
      close(ev.seq);
      open = { kind: 'reflecting', reflection: ev.id, from: ev.seq, to: Number.POSITIVE_INFINITY };
      out.push(open);
    } else if (ev.t === 'reflecting-ended') {
      const current = open as (Segment & { from: number; to: number }) | null;
      const reflection = current?.kind === 'reflecting' ? current.reflection : undefined;
      close(ev.seq);
      if (reflection) {
        open = { kind: 'response', reflection, from: ev.seq, to: Number.POSITIVE_INFINITY };
        out.push(open);
      }
    } else if (ev.t === 'response-closed' || ev.t === 'ended') {
      close(ev.seq);
    }
  }
  return out;
}

/** People who have not yet given a position on a proposal (removed people are not asked). */
export function notYetStated(item: ItemView, people: ReadonlyMap<string, Person>): string[] {
  const stated = new Set(item.positions.map((p) => p.person));
  return [...people.entries()].filter(([id, p]) => !stated.has(id) && !p.removed).map(([id]) => id);
}
