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
import { ENTRY_ID_PATTERN, refOf } from './ids.js';
import { LIMITS } from './limits.js';

/** Root type names inside the documents. */
export const VOICE_LOG = 'log';
export const MEETING_PEOPLE = 'people';
export const MEETING_ORDER = 'order';
export const MEETING_STATE = 'state';

const EntryId = v.pipe(v.string(), v.regex(ENTRY_ID_PATTERN));
const Ref = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{22}\/[A-Za-z0-9_-]{8,22}$/));
const Text = v.pipe(v.string(), v.trim(), v.minLength(1), v.maxLength(LIMITS.textChars));
/** Milliseconds since the epoch on the writer's own device (shown, never used for order). */
const At = v.pipe(v.number(), v.integer(), v.minValue(0));

export const SayEntrySchema = v.strictObject({
  t: v.literal('say'),
  id: EntryId,
  text: Text,
  at: At,
  /** The entry this one answers. */
  re: v.optional(Ref),
  /** How it answers: a response, or a different view that stands beside what it answers. */
  view: v.optional(v.picklist(['answer', 'different'])),
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
export const VoiceEntrySchema = v.variant('t', [SayEntrySchema, AmendEntrySchema, WithdrawEntrySchema]);
export type SayEntry = v.InferOutput<typeof SayEntrySchema>;
export type AmendEntry = v.InferOutput<typeof AmendEntrySchema>;
export type WithdrawEntry = v.InferOutput<typeof WithdrawEntrySchema>;
export type VoiceEntry = v.InferOutput<typeof VoiceEntrySchema>;

/** A participant as everyone in the meeting sees them: self-described, all optional. */
export interface Person {
  name: string;
  relation: string;
  /** "This meeting is about me": the person at the centre. */
  aboutMe: boolean;
  /** Server time of joining. */
  joinedAt: number;
}

/** The server's note of when it first received an entry. */
export interface OrderMark {
  v: string;
  id: string;
  at: number;
}

export interface MeetingState {
  openedAt: number;
  status: 'open' | 'ended';
  locked: boolean;
}

export interface Version {
  text: string;
  /** Server time it arrived (null while not yet received by the server). */
  at: number | null;
  /** Writer's device time. */
  writtenAt: number;
}

export interface ItemView {
  ref: string;
  /** Whose voice document holds it (who wrote it). */
  voice: string;
  versions: Version[];
  /** Current words: the latest version. */
  text: string;
  withdrawn: { at: number | null; writtenAt: number } | null;
  /** Server time it first arrived; null while only on this device. */
  at: number | null;
  writtenAt: number;
  re: string | null;
  view: 'answer' | 'different' | null;
  answers: ItemView[];
}

export interface RecordView {
  /** Top-level contributions in server-observed order; not-yet-received ones last. */
  items: ItemView[];
  /** Every item by reference, answers included. */
  byRef: Map<string, ItemView>;
}

/** The display name of a person: their own words, or a neutral stand-in. */
export function displayName(person: Person | undefined): string {
  if (!person) return 'Someone';
  return person.name.trim() || person.relation.trim() || 'Someone (no name given)';
}

/**
 * Fold the documents of a meeting into the record.
 * `voices` gives each voice's log entries in document order. Entries whose shape does not
 * match the schema are ignored (the server refuses them; this guards old or foreign data).
 */
export function buildRecord(order: readonly OrderMark[], voices: ReadonlyMap<string, readonly unknown[]>): RecordView {
  const seen = new Map<string, number>();
  order.forEach((mark, i) => {
    const r = refOf(mark.v, mark.id);
    if (!seen.has(r)) seen.set(r, i);
  });
  const arrived = (r: string): number | null => {
    const i = seen.get(r);
    return i === undefined ? null : (order[i]?.at ?? null);
  };

  const byRef = new Map<string, ItemView>();
  const later: Array<{ voice: string; entry: AmendEntry | WithdrawEntry }> = [];
  for (const [voice, log] of voices) {
    for (const raw of log) {
      const parsed = v.safeParse(VoiceEntrySchema, raw);
      if (!parsed.success) continue;
      const entry = parsed.output;
      if (entry.t === 'say') {
        const ref = refOf(voice, entry.id);
        if (byRef.has(ref)) continue;
        const at = arrived(ref);
        byRef.set(ref, {
          ref,
          voice,
          versions: [{ text: entry.text, at, writtenAt: entry.at }],
          text: entry.text,
          withdrawn: null,
          at,
          writtenAt: entry.at,
          re: entry.re ?? null,
          view: entry.re ? (entry.view ?? 'answer') : null,
          answers: [],
        });
      } else {
        later.push({ voice, entry });
      }
    }
  }
  // Amendments and withdrawals apply only to the same voice's own entries.
  const position = (voice: string, id: string, writtenAt: number): number =>
    seen.get(refOf(voice, id)) ?? Number.MAX_SAFE_INTEGER - 1e9 + writtenAt / 1e6;
  later.sort((a, b) => position(a.voice, a.entry.id, a.entry.at) - position(b.voice, b.entry.id, b.entry.at));
  for (const { voice, entry } of later) {
    const item = byRef.get(refOf(voice, entry.of));
    if (!item) continue;
    const at = arrived(refOf(voice, entry.id));
    if (entry.t === 'amend') {
      item.versions.push({ text: entry.text, at, writtenAt: entry.at });
      item.text = entry.text;
    } else if (!item.withdrawn) {
      item.withdrawn = { at, writtenAt: entry.at };
    }
  }

  const all = [...byRef.values()];
  all.sort((a, b) => position(a.voice, refTail(a.ref), a.writtenAt) - position(b.voice, refTail(b.ref), b.writtenAt));
  const items: ItemView[] = [];
  for (const item of all) {
    const target = item.re ? byRef.get(item.re) : undefined;
    if (target && target !== item) target.answers.push(item);
    else items.push(item);
  }
  return { items, byRef };
}

function refTail(ref: string): string {
  return ref.slice(ref.indexOf('/') + 1);
}
