/**
 * What the composer is about to add: plain words, an answer, a different view, or a proposal,
 * in my own voice or written for someone. The draft is kept on this device per meeting, so no
 * text is ever lost (a reload, a dropped connection, a phone call).
 */
import { createContext, tick } from 'svelte';
import { loadDraft, onDraftChange, saveDraft, type Draft } from './local.js';

export class ComposerState {
  #text = $state('');
  #re = $state<string | null>(null);
  #view = $state<'answer' | 'different'>('answer');
  #proposal = $state(false);
  #forPerson = $state('');
  /** Set by the composer: moves keyboard focus to the text box. */
  focus: () => void = () => undefined;

  /** Focus the text box once the screen has settled (after a sheet closes and gives focus back). */
  focusSoon(): void {
    void tick().then(() => requestAnimationFrame(() => this.focus()));
  }

  readonly #unlisten: () => void;

  constructor(readonly meetingId: string) {
    this.#load(loadDraft(meetingId));
    // One draft per meeting on this device: a second tab follows the first (and empties its box
    // when the first one adds the words to the record).
    this.#unlisten = typeof window === 'undefined' ? () => undefined : onDraftChange(meetingId, (d) => this.#load(d));
  }

  #load(d: Draft): void {
    this.#text = d.text;
    this.#re = d.re ?? null;
    this.#view = d.view ?? 'answer';
    this.#proposal = d.proposal ?? false;
    this.#forPerson = d.forPerson ?? '';
  }

  destroy(): void {
    this.#unlisten();
  }

  get text() {
    return this.#text;
  }
  set text(value: string) {
    this.#text = value;
    this.#save();
  }
  get re() {
    return this.#re;
  }
  get view() {
    return this.#view;
  }
  get proposal() {
    return this.#proposal;
  }
  /** '' means "me". */
  get forPerson() {
    return this.#forPerson;
  }
  set forPerson(id: string) {
    this.#forPerson = id;
    this.#save();
  }

  answer(ref: string, view: 'answer' | 'different'): void {
    this.#re = ref;
    this.#view = view;
    this.#proposal = false;
    this.#save();
    this.focus();
  }

  propose(): void {
    this.#re = null;
    this.#proposal = true;
    this.#save();
    this.focus();
  }

  /** Back to plain words (keeps the text). */
  plain(): void {
    this.#re = null;
    this.#proposal = false;
    this.#save();
  }

  /**
   * Words the server did not accept (the device has reset its voice to the server's state): they
   * come back into the box, before anything typed since, so the person can look and send again.
   */
  giveBack(texts: readonly string[]): void {
    this.text = [...texts, this.#text].filter((x) => x.trim() !== '').join('\n\n');
  }

  /** After sending: empty the box, and write as myself again (the next words are mine). */
  sent(): void {
    this.#text = '';
    this.#re = null;
    this.#proposal = false;
    this.#forPerson = '';
    this.#save();
  }

  #save(): void {
    const d: Draft = { text: this.#text };
    if (this.#re) Object.assign(d, { re: this.#re, view: this.#view });
    if (this.#proposal) d.proposal = true;
    if (this.#forPerson) d.forPerson = this.#forPerson;
    saveDraft(this.meetingId, d);
  }
}

export const [getComposer, setComposer] = createContext<ComposerState>();
