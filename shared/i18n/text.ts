/** Putting values into a catalog sentence: `{name}` placeholders, `#` in plural forms. */
export type Vars = Record<string, string | number>;

const numbers = new Map<string, Intl.NumberFormat>();
/** A value as it reads in a sentence: numbers in the locale's own digits and grouping. */
export function show(value: string | number | undefined, locale?: string): string {
  if (typeof value !== 'number' || !locale) return value === undefined ? '' : String(value);
  let f = numbers.get(locale);
  if (!f) numbers.set(locale, (f = new Intl.NumberFormat(locale)));
  return f.format(value);
}

/** Plain text (for attributes such as aria-label and the page title). */
export function fmt(template: string, vars: Vars = {}, locale?: string): string {
  return template.replace(/\{(\w+)\}/g, (whole, key: string) => (key in vars ? show(vars[key], locale) : whole));
}

/** A sentence cut into its text and its values, so that each value can be isolated in <bdi>. */
export function parts(template: string): Array<{ text: string } | { key: string }> {
  const out: Array<{ text: string } | { key: string }> = [];
  let last = 0;
  for (const m of template.matchAll(/\{(\w+)\}/g)) {
    if (m.index > last) out.push({ text: template.slice(last, m.index) });
    out.push({ key: m[1] ?? '' });
    last = m.index + m[0].length;
  }
  if (last < template.length) out.push({ text: template.slice(last) });
  return out;
}
