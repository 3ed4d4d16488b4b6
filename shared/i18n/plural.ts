/** Plurals in a language's own forms (Arabic has six; Finnish and Swedish two). */
export type Forms = Partial<Record<Intl.LDMLPluralRule, string>> & { other: string };

export function plural(locale: string): (n: number, forms: Forms) => string {
  const rules = new Intl.PluralRules(locale);
  const num = new Intl.NumberFormat(locale);
  return (n, forms) => (forms[rules.select(n)] ?? forms.other).replaceAll('#', num.format(n));
}
