/**
 * The interface languages, and the shape of the sentences every code of the shared vocabulary
 * needs. The catalogs (en.ts and the others) are the one place every sentence a person reads
 * lives: the page shows them, and the server writes the exports and the calendar file with them.
 */
import type { CloseReasonCode, ErrorCode } from '../errors.js';

export const LANGUAGES = [
  { code: 'en', name: 'English', dir: 'ltr', locale: 'en-GB' },
  { code: 'fi', name: 'Suomi', dir: 'ltr', locale: 'fi-FI' },
  { code: 'sv', name: 'Svenska', dir: 'ltr', locale: 'sv-SE' },
  { code: 'ar', name: 'العربية', dir: 'rtl', locale: 'ar' },
] as const;
export type Lang = (typeof LANGUAGES)[number]['code'];

export function isLang(x: unknown): x is Lang {
  return LANGUAGES.some((l) => l.code === x);
}

/** The locale for dates, times and numbers in a language. */
export function localeOf(lang: Lang): string {
  return LANGUAGES.find((l) => l.code === lang)?.locale ?? 'en-GB';
}

/** Keys of the error sentences: every ErrorCode, plus the page's own. */
export type ErrorSentences = Record<ErrorCode | 'offline' | 'no-answer' | 'unknown', string>;
export type CloseSentences = Record<CloseReasonCode, string>;
