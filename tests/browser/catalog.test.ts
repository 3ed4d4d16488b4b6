/**
 * The message catalog (no browser needed; it lives here with the interface's tests). tsc already
 * fails on a missing or extra key; this checks what types cannot: every sentence of every
 * language has the same placeholders as the English one, no sentence is empty, every error code
 * the server can send has a sentence, and plural forms cover each language's own categories.
 */
import { describe, expect, it } from 'vitest';
import { CloseReason, ErrorCode } from '../../shared/errors.js';
import { catalog as ar } from '../../shared/i18n/ar.js';
import { en } from '../../shared/i18n/en.js';
import { fmt } from '../../shared/i18n/text.js';
import { catalog as fi } from '../../shared/i18n/fi.js';
import { catalog as sv } from '../../shared/i18n/sv.js';

type Tree = { [key: string]: string | Tree };
const LANGS = { fi, sv, ar } as Record<string, unknown>;
const LOCALES: Record<string, string> = { en: 'en-GB', fi: 'fi-FI', sv: 'sv-SE', ar: 'ar' };
/**
 * Sentences that leave a name out on purpose: Finnish would have to inflect the name ("koskee
 * Mikkoa"), which a template cannot do; the name stands just before it in the same line.
 */
const NAME_LEFT_OUT = new Set(['fi people.aboutMe']);
const PLURAL_KEYS = new Set(['zero', 'one', 'two', 'few', 'many', 'other']);

function isForms(x: unknown): x is Record<string, string> {
  return typeof x === 'object' && x !== null && 'other' in x && Object.keys(x).every((k) => PLURAL_KEYS.has(k));
}

function leaves(tree: unknown, prefix = ''): Array<[string, string | Record<string, string>]> {
  if (typeof tree === 'string' || isForms(tree)) return [[prefix, tree]];
  return Object.entries(tree as Tree).flatMap(([k, v]) => leaves(v, prefix ? `${prefix}.${k}` : k));
}

function placeholders(value: string | Record<string, string>): string[] {
  const texts = typeof value === 'string' ? [value] : Object.values(value);
  return [...new Set(texts.flatMap((t) => [...t.matchAll(/\{(\w+)\}/g)].map((m) => m[1] ?? '')))].sort();
}

describe('the message catalog', () => {
  const english = new Map(leaves(en));

  for (const [lang, cat] of Object.entries(LANGS)) {
    it(`${lang}: the same keys and placeholders as English, nothing empty, every plural form`, () => {
      const mine = new Map(leaves(cat));
      expect([...mine.keys()].sort()).toEqual([...english.keys()].sort());
      for (const [key, value] of mine) {
        if (!NAME_LEFT_OUT.has(`${lang} ${key}`))
          expect(placeholders(value), `${lang} ${key}`).toEqual(placeholders(english.get(key) ?? ''));
        const texts = typeof value === 'string' ? [value] : Object.values(value);
        for (const t of texts) expect(t.trim(), `${lang} ${key} is empty`).not.toBe('');
        if (typeof value !== 'string') {
          const needed = new Intl.PluralRules(LOCALES[lang]).resolvedOptions().pluralCategories;
          // A form may be left out only where the language's 'other' reads right for it.
          for (const c of needed) if (c !== 'zero') expect(value[c] ?? value.other, `${lang} ${key} ${c}`).toBeTruthy();
        }
      }
    });
  }

  it('has a sentence for every code the server can send', () => {
    for (const code of Object.values(ErrorCode)) expect(en.errors[code], code).toBeTruthy();
    for (const code of Object.values(CloseReason)) expect(en.closed[code], code).toBeTruthy();
  });

  it('puts numbers into sentences in each language’s own way, and people’s words as they are', () => {
    const step = fi.replay.stepAt;
    expect(fmt(step, { n: 1234, steps: 20000, time: '12.05', what: '2 000' }, 'fi-FI')).toBe(
      fi.replay.stepAt
        .replace('{n}', '1\u00a0234')
        .replace('{steps}', '20\u00a0000')
        .replace('{time}', '12.05')
        .replace('{what}', '2 000'),
    );
    expect(fmt('{n}', { n: 1234 }, 'en-GB')).toBe('1,234');
    expect(fmt('{n}', { n: 1234 }, 'sv-SE')).toBe('1\u00a0234');
    // A person's words that look like a number are still their words.
    expect(fmt('{name}', { name: '1234' }, 'fi-FI')).toBe('1234');
  });
});
