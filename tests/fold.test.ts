/**
 * The fold (`buildRecord`, shared/record.ts) as plain data: server-ordered order marks and events,
 * and each voice's log. No server, no Yjs: SPEC rules 9–13 as the fold enforces them.
 */
import { describe, expect, it } from 'vitest';
import {
  buildRecord,
  notYetStated,
  type MeetingEvent,
  type OrderMark,
  type Person,
  type VoiceEntry,
} from '../shared/record.js';

const A = 'A'.repeat(22);
const B = 'B'.repeat(22);
const C = 'C'.repeat(22);

type EventInput = MeetingEvent extends infer E
  ? E extends MeetingEvent
    ? Omit<E, 'id' | 'at' | 'seq' | 'by'>
    : never
  : never;

/** A meeting as plain data: what the server received, in the order it received it. */
class Meeting {
  readonly order: OrderMark[] = [];
  readonly events: MeetingEvent[] = [];
  readonly voices = new Map<string, VoiceEntry[]>();
  #n = 0;
  #clock = 1_000;

  #id(): string {
    return `entry${String(++this.#n).padStart(4, '0')}`;
  }

  /** `voice` writes `entry` (device time `at`), and the server receives it now. Returns its ref. */
  write(voice: string, entry: DistributiveOmit<VoiceEntry, 'id' | 'at'> & { at?: number }): string {
    const ref = this.writeOffline(voice, entry);
    this.receive(ref);
    return ref;
  }

  /** Written on the device, not received by the server yet. */
  writeOffline(voice: string, entry: DistributiveOmit<VoiceEntry, 'id' | 'at'> & { at?: number }): string {
    const full = { at: 5, ...entry, id: this.#id() } as VoiceEntry;
    const log = this.voices.get(voice) ?? [];
    log.push(full);
    this.voices.set(voice, log);
    return `${voice}/${full.id}`;
  }

  /** The server receives an entry written earlier: its order mark. */
  receive(ref: string): void {
    const [v, id] = ref.split('/') as [string, string];
    this.order.push({ v, id, at: (this.#clock += 1000) });
  }

  event(e: EventInput, by = A): MeetingEvent {
    const full = {
      ...e,
      id: `event${this.events.length}`,
      at: (this.#clock += 1000),
      seq: this.order.length,
      by,
    } as MeetingEvent;
    this.events.push(full);
    return full;
  }

  record(upTo?: number) {
    return buildRecord({ order: this.order, events: this.events }, this.voices, upTo === undefined ? {} : { upTo });
  }

  item(ref: string) {
    const item = this.record().byRef.get(ref);
    if (!item) throw new Error(`no item ${ref}`);
    return item;
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

const idOf = (ref: string) => ref.split('/')[1]!;

describe('[S9] server order', () => {
  it('[S9] items are placed in the order the server received them, never by device clocks; device time is kept', () => {
    const m = new Meeting();
    const late = m.write(A, { t: 'say', text: 'received first, clock wrong', at: 9_000_000 });
    const early = m.write(B, { t: 'say', text: 'received second', at: 1 });
    const record = m.record();
    expect(record.items.map((i) => i.ref)).toEqual([late, early]);
    expect(record.items.map((i) => i.writtenAt)).toEqual([9_000_000, 1]);
    expect(record.items.map((i) => i.at)).toEqual([m.order[0]!.at, m.order[1]!.at]);
    expect(record.items.map((i) => i.seq)).toEqual([0, 1]);
  });

  it('[S9] the position of an entry in its log does not matter; only its order mark does', () => {
    const m = new Meeting();
    const second = m.writeOffline(A, { t: 'say', text: 'second in the log, received first' });
    const first = m.writeOffline(A, { t: 'say', text: 'first' });
    m.voices.set(A, [...m.voices.get(A)!].reverse());
    m.receive(second);
    m.receive(first);
    expect(m.record().items.map((i) => i.ref)).toEqual([second, first]);
  });

  it('[S9] words not yet received come last, with no server time; the first order mark of an entry counts', () => {
    const m = new Meeting();
    const offline = m.writeOffline(B, { t: 'say', text: 'written offline' });
    const a = m.write(A, { t: 'say', text: 'received' });
    m.receive(a); // a second mark for the same entry changes nothing
    const record = m.record();
    expect(record.items.map((i) => [i.ref, i.seq, i.at])).toEqual([
      [a, 0, m.order[0]!.at],
      [offline, null, null],
    ]);
    m.receive(offline);
    expect(m.record().items.map((i) => i.ref)).toEqual([a, offline]);
  });

  it('[S9] a replay up to step n shows what the server had received by then', () => {
    const m = new Meeting();
    const one = m.write(A, { t: 'say', text: 'one' });
    m.event({ t: 'reflecting-started' });
    m.write(B, { t: 'say', text: 'two' });
    m.writeOffline(C, { t: 'say', text: 'never received' });
    expect(m.record(1).items.map((i) => i.ref)).toEqual([one]);
    expect(m.record(1).timeline.map((t) => t.kind)).toEqual(['item', 'event']);
    expect(m.record(0).timeline).toEqual([]);
  });
});

describe('[S10] own words only', () => {
  it('[S10] amend and withdraw apply to entries in the same voice only', () => {
    const m = new Meeting();
    const a = m.write(A, { t: 'say', text: 'my words' });
    // B names A's entry id: in B's own voice that id is nothing of A's.
    m.write(B, { t: 'amend', of: idOf(a), text: 'B rewrites A' });
    m.write(B, { t: 'withdraw', of: idOf(a) });
    expect(m.item(a)).toMatchObject({ text: 'my words', withdrawn: null });
    expect(m.item(a).versions).toHaveLength(1);
    // A's own amendment and withdrawal apply, with the history kept.
    m.write(A, { t: 'amend', of: idOf(a), text: 'my words, better', at: 77 });
    m.write(A, { t: 'withdraw', of: idOf(a), at: 78 });
    const item = m.item(a);
    expect(item.text).toBe('my words, better');
    expect(item.versions.map((v) => [v.text, v.by, v.writtenAt])).toEqual([
      ['my words', A, 5],
      ['my words, better', A, 77],
    ]);
    expect(item.withdrawn).toEqual({ at: m.order.at(-1)!.at, writtenAt: 78 });
  });
});

describe('[S11] written for someone', () => {
  it('[S11] a scribe’s words for B are B’s, unconfirmed until B confirms; then the scribe can no longer change them', () => {
    const m = new Meeting();
    const ref = m.write(A, { t: 'say', text: 'B says they are tired', for: B });
    expect(m.item(ref)).toMatchObject({ voice: A, speaker: B, scribed: { status: 'unconfirmed', at: null } });
    m.write(A, { t: 'amend', of: idOf(ref), text: 'B says they are very tired' });
    expect(m.item(ref).text).toBe('B says they are very tired');
    // Someone else cannot confirm it; B can.
    m.write(C, { t: 'confirm', of: ref });
    expect(m.item(ref).scribed?.status).toBe('unconfirmed');
    m.write(B, { t: 'confirm', of: ref });
    const confirmedAt = m.order.at(-1)!.at;
    expect(m.item(ref)).toMatchObject({ speaker: B, scribed: { status: 'confirmed', at: confirmedAt } });
    // Confirmed words stay the speaker's: the scribe's amendment and withdrawal are ignored.
    m.write(A, { t: 'amend', of: idOf(ref), text: 'A changes B’s words' });
    m.write(A, { t: 'withdraw', of: idOf(ref) });
    expect(m.item(ref)).toMatchObject({ text: 'B says they are very tired', withdrawn: null, speaker: B });
  });

  it('[S11] B’s correction stands, and stays B’s words whatever the scribe does after', () => {
    const m = new Meeting();
    const ref = m.write(A, { t: 'say', text: 'B wants to go to hospital', for: B });
    m.write(B, { t: 'correct', of: ref, text: 'I do not want to go to hospital', at: 42 });
    m.write(A, { t: 'amend', of: idOf(ref), text: 'B wants to go to hospital after all' });
    m.write(B, { t: 'confirm', of: ref });
    const item = m.item(ref);
    expect(item).toMatchObject({ speaker: B, voice: A, text: 'I do not want to go to hospital' });
    expect(item.scribed?.status).toBe('corrected');
    expect(item.versions.map((v) => [v.by, v.text, v.writtenAt])).toEqual([
      [A, 'B wants to go to hospital', 5],
      [B, 'I do not want to go to hospital', 42],
    ]);
  });

  it('[S11] confirming words that were not written for you does nothing; one’s own words are not scribed', () => {
    const m = new Meeting();
    const own = m.write(A, { t: 'say', text: 'my own words' });
    const forC = m.write(A, { t: 'say', text: 'for C', for: C });
    m.write(B, { t: 'confirm', of: own });
    m.write(B, { t: 'correct', of: forC, text: 'B takes over C’s words' });
    expect(m.item(own).scribed).toBeNull();
    expect(m.item(own).speaker).toBe(A);
    expect(m.item(forC)).toMatchObject({ text: 'for C', speaker: C, scribed: { status: 'unconfirmed' } });
  });
});

describe('[S12] positions', () => {
  it('[S12] the current position is the latest in server order, own or written by a scribe (unconfirmed until confirmed)', () => {
    const m = new Meeting();
    const p = m.write(A, { t: 'say', text: 'Meet on Thursday?', proposal: true });
    m.write(B, { t: 'position', of: p, stance: 'agree', text: 'yes', at: 9_999_999 });
    const scribed = m.write(C, { t: 'position', of: p, stance: 'disagree', for: B, at: 1 });
    let view = m.item(p).positions;
    expect(view).toHaveLength(1);
    expect(view[0]).toMatchObject({ person: B, stance: 'disagree', writer: C, confirmed: false, ref: scribed });
    expect(view[0]!.history.map((h) => [h.stance, h.writer])).toEqual([
      ['agree', B],
      ['disagree', C],
    ]);
    m.write(B, { t: 'confirm', of: scribed });
    view = m.item(p).positions;
    expect(view[0]).toMatchObject({ stance: 'disagree', confirmed: true });
    // Only the person may confirm a position written for them.
    const forA = m.write(C, { t: 'position', of: p, stance: 'unsure', for: A });
    m.write(B, { t: 'confirm', of: forA });
    expect(m.item(p).positions.map((x) => [x.person, x.confirmed])).toEqual([
      [B, true],
      [A, false],
    ]);
  });

  it('[S12] positions count only on proposals; nothing weighs them; who has not stated one is listed', () => {
    const m = new Meeting();
    const plain = m.write(A, { t: 'say', text: 'not a proposal' });
    const p = m.write(A, { t: 'say', text: 'a proposal', proposal: true });
    m.write(B, { t: 'position', of: plain, stance: 'agree' });
    m.write(B, { t: 'position', of: p, stance: 'agree' });
    m.write(C, { t: 'position', of: p, stance: 'disagree' });
    expect(m.item(plain).positions).toEqual([]);
    expect(m.item(p).positions.map((x) => [x.person, x.stance])).toEqual([
      [B, 'agree'],
      [C, 'disagree'],
    ]);
    const person = (removed = false): Person => ({ name: 'x', relation: '', aboutMe: false, joinedAt: 0, removed });
    const people = new Map([
      [A, person()],
      [B, person()],
      [C, person()],
      ['D'.repeat(22), person(true)],
    ]);
    expect(notYetStated(m.item(p), people)).toEqual([A]);
  });
});

describe('[S13] segments', () => {
  it('[S13] entries during a reflection belong to it; after it, until closed, they are the response', () => {
    const m = new Meeting();
    const before = m.write(A, { t: 'say', text: 'before' });
    const started = m.event({ t: 'reflecting-started' });
    const during = m.write(B, { t: 'say', text: 'during' });
    m.event({ t: 'reflecting-ended' });
    const response = m.write(C, { t: 'say', text: 'response' });
    m.event({ t: 'response-closed', responded: true });
    const after = m.write(A, { t: 'say', text: 'after' });
    expect([before, during, response, after].map((r) => m.item(r).segment)).toEqual([
      null,
      { kind: 'reflecting', reflection: started.id },
      { kind: 'response', reflection: started.id },
      null,
    ]);
    expect(m.record().timeline.map((t) => (t.kind === 'item' ? t.item.text : t.event.t))).toEqual([
      'before',
      'reflecting-started',
      'during',
      'reflecting-ended',
      'response',
      'response-closed',
      'after',
    ]);
  });

  it('[S13] a response ends at the next reflection or at the end of the meeting', () => {
    const m = new Meeting();
    const first = m.event({ t: 'reflecting-started' });
    m.event({ t: 'reflecting-ended' });
    const r1 = m.write(A, { t: 'say', text: 'response to the first' });
    const second = m.event({ t: 'reflecting-started' });
    const d2 = m.write(B, { t: 'say', text: 'during the second' });
    m.event({ t: 'reflecting-ended' });
    const r2 = m.write(C, { t: 'say', text: 'response to the second' });
    m.event({ t: 'ended', next: null });
    const late = m.write(A, { t: 'say', text: 'after the end (should not happen, but placed)' });
    expect([r1, d2, r2, late].map((r) => m.item(r).segment)).toEqual([
      { kind: 'response', reflection: first.id },
      { kind: 'reflecting', reflection: second.id },
      { kind: 'response', reflection: second.id },
      null,
    ]);
  });
});
