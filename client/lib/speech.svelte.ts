/**
 * "Listen": words read aloud by the device itself (speechSynthesis), with voices that run on the
 * device only (`localService`), so no one's words are sent to a speech service. The language of
 * each text is guessed from its letters where it can be (Arabic script, å, ä/ö), else the
 * interface language. Nothing is offered when the device has no local voice for it.
 */
import { i18n } from '../i18n/index.svelte.js';

/** The language of a piece of text, as far as its letters tell. */
export function languageOf(text: string, fallback: string): string {
  if (/[\u0600-\u06FF]/.test(text)) return 'ar';
  if (/å/i.test(text)) return 'sv';
  if (/[äö]/i.test(text)) return fallback === 'sv' ? 'sv' : 'fi';
  return fallback;
}

class Speech {
  #voices = $state.raw<SpeechSynthesisVoice[]>([]);
  #speaking = $state<string | null>(null);

  constructor() {
    if (typeof speechSynthesis === 'undefined') return;
    const load = () => (this.#voices = speechSynthesis.getVoices().filter((v) => v.localService));
    load();
    speechSynthesis.addEventListener('voiceschanged', load);
  }

  #voice(lang: string): SpeechSynthesisVoice | undefined {
    return this.#voices.find((v) => v.lang.toLowerCase().split(/[-_]/)[0] === lang);
  }

  /** Whether this device can read `text` aloud with a local voice. */
  can(text: string): boolean {
    return this.#voice(languageOf(text, i18n.lang)) !== undefined;
  }

  /** What is being read now (a key given by the caller), if anything. */
  get speaking(): string | null {
    return this.#speaking;
  }

  /** Read the texts aloud, one after another; `key` names what is being read. */
  say(key: string, texts: readonly string[]): void {
    this.stop();
    const parts = texts.filter((t) => t.trim() && this.can(t));
    if (!parts.length) return;
    this.#speaking = key;
    parts.forEach((text, i) => {
      const u = new SpeechSynthesisUtterance(text);
      const voice = this.#voice(languageOf(text, i18n.lang));
      if (voice) {
        u.voice = voice;
        u.lang = voice.lang;
      }
      if (i === parts.length - 1) u.onend = u.onerror = () => (this.#speaking = null);
      speechSynthesis.speak(u);
    });
  }

  stop(): void {
    if (typeof speechSynthesis !== 'undefined') speechSynthesis.cancel();
    this.#speaking = null;
  }
}

export const speech = new Speech();
