/**
 * The interface language: one catalog of every sentence a person reads, per language. English
 * (`en.ts`) is the source of the keys; the other catalogs are typed `satisfies Catalog`, so a
 * missing or extra key fails `tsc` (and so `npm run check`). Only the active language is loaded:
 * the others are separate chunks, fetched when someone chooses them.
 *
 * The choice is per device (localStorage), starting from the browser's languages. People's own
 * words are never translated.
 */
import type { CloseReasonCode } from '../../shared/errors.js';
import { en, type Catalog } from '../../shared/i18n/en.js';
import { LANGUAGES, isLang, type Lang } from '../../shared/i18n/languages.js';
import { fmt as fill, type Vars } from '../../shared/i18n/text.js';

export type { Catalog, Lang };
export { LANGUAGES };

const loaders: Record<Exclude<Lang, 'en'>, () => Promise<{ catalog: Catalog }>> = {
  fi: () => import('../../shared/i18n/fi.js'),
  sv: () => import('../../shared/i18n/sv.js'),
  ar: () => import('../../shared/i18n/ar.js'),
};

const KEY = 'polyphony:lang';

/** The device's remembered choice, else the first of the browser's languages we have. */
export function preferredLanguage(): Lang {
  try {
    const saved = localStorage.getItem(KEY);
    if (isLang(saved)) return saved;
  } catch {
    // Storage refused: fall through to the browser's languages.
  }
  const wanted = typeof navigator === 'undefined' ? [] : [...(navigator.languages ?? []), navigator.language];
  for (const tag of wanted) {
    const primary = String(tag).toLowerCase().split('-')[0];
    if (primary === 'nb' || primary === 'no') continue;
    if (isLang(primary)) return primary;
  }
  return 'en';
}

class Language {
  #lang = $state<Lang>('en');
  #t = $state.raw<Catalog>(en);

  get lang(): Lang {
    return this.#lang;
  }
  /** The active catalog. Reading it in a template or `$derived` follows the choice. */
  get t(): Catalog {
    return this.#t;
  }
  get dir(): 'ltr' | 'rtl' {
    return LANGUAGES.find((l) => l.code === this.#lang)?.dir ?? 'ltr';
  }
  /** The locale for dates, times and numbers, in the interface language. */
  get locale(): string {
    return LANGUAGES.find((l) => l.code === this.#lang)?.locale ?? 'en-GB';
  }

  /** Switch the interface to `lang` (loading its catalog first) and remember it on this device. */
  async use(lang: Lang, remember = true): Promise<void> {
    const catalog = lang === 'en' ? en : (await loaders[lang]()).catalog;
    this.#t = catalog;
    this.#lang = lang;
    if (typeof document !== 'undefined') {
      document.documentElement.lang = lang;
      document.documentElement.dir = this.dir;
    }
    if (remember) {
      try {
        localStorage.setItem(KEY, lang);
      } catch {
        // Not remembered; the page still changes language.
      }
    }
  }
}

export const i18n = new Language();

/** A catalog sentence with its values put in (numbers in the interface language's digits). */
export function fmt(template: string, vars: Vars = {}): string {
  return fill(template, vars, i18n.locale);
}

/** The active catalog (for plain TypeScript outside components). */
export function t(): Catalog {
  return i18n.t;
}

/** The sentence for a code the server (or this page) gives; a calm generic one for anything unknown. */
export function errorText(code: string | null | undefined): string {
  const e = i18n.t.errors as Record<string, string>;
  return (code && Object.hasOwn(e, code) ? e[code] : undefined) ?? i18n.t.errors.unknown;
}

/** Why the server disconnected this person. */
export function closeText(code: CloseReasonCode | string): string {
  const c = i18n.t.closed as Record<string, string>;
  return (Object.hasOwn(c, code) ? c[code] : undefined) ?? i18n.t.errors.unknown;
}
