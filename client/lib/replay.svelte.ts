/**
 * Replay: how the record unfolded, one step per entry the server received (a contribution, an
 * amendment, a position…), in server order, with the time it arrived.
 *
 * Smooth for a long meeting: the record is folded only for the step on screen (`buildRecord`
 * with `upTo`), at most once per animation frame however fast the slider moves, and playing
 * advances by elapsed time, skipping steps rather than falling behind.
 */
import { refOf } from '../../shared/ids.js';
import {
  VoiceEntrySchema,
  buildRecord,
  replaySteps,
  type MeetingLogs,
  type OrderMark,
  type RecordView,
  type TimelineEntry,
  type VoiceEntry,
} from '../../shared/record.js';
import * as v from 'valibot';

export interface ReplayStep {
  /** 1-based number of the step. */
  n: number;
  mark: OrderMark;
  entry: VoiceEntry | undefined;
  /** The item this step added or changed (for showing where it happened). */
  focus: string | null;
}

/** How long one step takes when playing: a whole meeting plays in about a minute. */
const PLAY_MS = 60_000;
const MIN_STEP_MS = 40;
const MAX_STEP_MS = 900;

const raf = (fn: FrameRequestCallback): number =>
  typeof requestAnimationFrame === 'function'
    ? requestAnimationFrame(fn)
    : (setTimeout(() => fn(Date.now()), 16) as unknown as number);
const cancelRaf = (id: number): void => {
  if (typeof cancelAnimationFrame === 'function') cancelAnimationFrame(id);
  else clearTimeout(id);
};

export interface ReplaySource {
  meeting: MeetingLogs;
  voices: ReadonlyMap<string, readonly unknown[]>;
}

export class ReplayState {
  readonly #source: () => ReplaySource;
  readonly #meeting: MeetingLogs = $derived.by(() => this.#source().meeting);
  readonly #voices: ReadonlyMap<string, readonly unknown[]> = $derived.by(() => this.#source().voices);
  /** Where the slider is. */
  #target = $state(0);
  /** The step whose record is on screen (follows the slider, once per frame). */
  #shown = $state(0);
  #playing = $state(false);
  /** How fast playing goes: 0.5 slow, 1 normal, 2 fast. */
  #speed = $state(1);
  #frame = 0;
  #playFrame = 0;
  #last = 0;
  #carry = 0;

  /** `source` gives the meeting's data; it is read again whenever it changes (an erasure). */
  constructor(source: () => ReplaySource) {
    this.#source = source;
  }

  readonly steps = $derived(replaySteps(this.#meeting));

  /** Every valid entry by reference: what each step was. */
  readonly #entries = $derived.by(() => {
    // eslint-disable-next-line svelte/prefer-svelte-reactivity -- rebuilt whole, never mutated
    const byRef = new Map<string, VoiceEntry>();
    for (const [voice, log] of this.#voices) {
      for (const raw of log) {
        const parsed = v.safeParse(VoiceEntrySchema, raw);
        if (parsed.success) byRef.set(refOf(voice, parsed.output.id), parsed.output);
      }
    }
    return byRef;
  });

  /** The record as it stood at the step on screen. */
  readonly view: RecordView = $derived(buildRecord(this.#meeting, this.#voices, { upTo: this.shown }));

  /**
   * The timeline at the step on screen, sharing every entry that did not change since the last
   * step: the same objects, so the screen updates only what a step added or changed.
   */
  readonly timeline: TimelineEntry[] = $derived.by(() => {
    // A plain cache, not state: nothing reads it reactively.
    // eslint-disable-next-line svelte/prefer-svelte-reactivity
    const next = new Map<string, { sig: string; entry: TimelineEntry }>();
    const out = this.view.timeline.map((entry) => {
      const key = entry.kind === 'item' ? entry.item.ref : `event:${entry.event.id}`;
      const sig = entry.kind === 'item' ? JSON.stringify(entry.item) : '';
      const before = this.#previous.get(key);
      const kept = before && before.sig === sig ? before.entry : entry;
      next.set(key, { sig, entry: kept });
      return kept;
    });
    this.#previous = next;
    return out;
  });
  // eslint-disable-next-line svelte/prefer-svelte-reactivity -- a plain cache (see above)
  #previous = new Map<string, { sig: string; entry: TimelineEntry }>();

  /** The step on screen (null before the first). */
  readonly current: ReplayStep | null = $derived.by(() => {
    const mark = this.#meeting.order[this.shown - 1];
    if (!mark) return null;
    const entry = this.#entries.get(refOf(mark.v, mark.id));
    return { n: this.shown, mark, entry, focus: entry ? focusOf(mark.v, entry) : null };
  });

  get speed(): number {
    return this.#speed;
  }
  set speed(value: number) {
    this.#speed = value > 0 && Number.isFinite(value) ? value : 1;
  }

  get target(): number {
    return Math.min(this.#target, this.steps);
  }
  get shown(): number {
    return Math.min(this.#shown, this.steps);
  }
  get playing(): boolean {
    return this.#playing;
  }
  /** Server time of a step (for the slider's words), null for step 0. */
  timeOf(step: number): number | null {
    return this.#meeting.order[step - 1]?.at ?? null;
  }

  /** Move to a step. The record follows at the next frame (never more than one fold a frame). */
  seek(step: number): void {
    this.#target = Math.max(0, Math.min(this.steps, Math.round(step)));
    if (this.#frame) return;
    this.#frame = raf(() => {
      this.#frame = 0;
      this.#shown = this.#target;
    });
  }

  play(): void {
    if (this.steps === 0) return;
    if (this.target >= this.steps) {
      this.#target = 0;
      this.#shown = 0;
    }
    this.#target = this.target;
    this.#playing = true;
    this.#carry = 0;
    this.#last = typeof performance !== 'undefined' ? performance.now() : Date.now();
    this.#playFrame = raf(this.#advance);
  }

  pause(): void {
    this.#playing = false;
    if (this.#playFrame) cancelRaf(this.#playFrame);
    this.#playFrame = 0;
  }

  toggle(): void {
    if (this.#playing) this.pause();
    else this.play();
  }

  readonly #advance = (now: number): void => {
    if (!this.#playing) return;
    const stepMs =
      Math.min(MAX_STEP_MS, Math.max(MIN_STEP_MS, PLAY_MS / Math.max(1, this.steps))) / Math.max(0.1, this.#speed);
    this.#carry += now - this.#last;
    this.#last = now;
    const n = Math.floor(this.#carry / stepMs);
    if (n > 0) {
      this.#carry -= n * stepMs;
      this.#target = Math.min(this.steps, this.#target + n);
      this.#shown = this.#target;
    }
    if (this.#target >= this.steps) {
      this.#playing = false;
      this.#playFrame = 0;
      return;
    }
    this.#playFrame = raf(this.#advance);
  };

  destroy(): void {
    this.pause();
    if (this.#frame) cancelRaf(this.#frame);
    this.#frame = 0;
  }
}

/** The item a step added or changed. */
function focusOf(voice: string, entry: VoiceEntry): string {
  switch (entry.t) {
    case 'say':
      return refOf(voice, entry.id);
    case 'amend':
    case 'withdraw':
    case 'decide':
      return refOf(voice, entry.of);
    case 'confirm':
    case 'correct':
    case 'position':
      return entry.of;
  }
}
