/** Times as people read them, in the interface language (the device's time zone). */
import { i18n } from '../i18n/index.svelte.js';

const cache = new Map<string, Intl.DateTimeFormat>();
function format(key: string, options: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  const id = `${i18n.locale}|${key}`;
  let f = cache.get(id);
  if (!f) {
    f = new Intl.DateTimeFormat(i18n.locale, options);
    cache.set(id, f);
  }
  return f;
}

export function clock(ms: number): string {
  return format('hm', { hour: '2-digit', minute: '2-digit' }).format(ms);
}

export function dayAndTime(ms: number): string {
  return format('dayHm', {
    weekday: 'short',
    day: 'numeric',
    month: 'long',
    hour: '2-digit',
    minute: '2-digit',
  }).format(ms);
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** Device and server times further apart than this mean the words were written offline (or the clock is off). */
export const OFFLINE_GAP_MS = 60_000;

/** "Tuesday 3 March 2026". */
export function longDate(ms: number): string {
  return format('long', { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' }).format(ms);
}

function units(n: number, unit: 'minute' | 'hour' | 'day'): string {
  return new Intl.NumberFormat(i18n.locale, { style: 'unit', unit, unitDisplay: 'long' }).format(n);
}

/** A length of time in plain words: "40 minutes", "6 hours", "3 days" (in the interface language). */
export function duration(ms: number): string {
  const minutes = Math.round(Math.abs(ms) / 60_000);
  if (minutes < 1) return i18n.t.firstMeeting.lessThanMinute;
  if (minutes < 60) return units(minutes, 'minute');
  const hours = Math.round(minutes / 60);
  if (hours < 48) return units(hours, 'hour');
  return units(Math.round(hours / 24), 'day');
}

const pad = (n: number) => String(n).padStart(2, '0');

/** Milliseconds → the value of an `<input type="datetime-local">` (this device's time zone). */
export function toLocalInput(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** The value of an `<input type="datetime-local">` → milliseconds, or null when it is not a time. */
export function fromLocalInput(value: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$/.exec(value);
  if (!m) return null;
  const [, y, mo, d, h, mi] = m.map(Number) as [number, number, number, number, number, number];
  const ms = new Date(y, mo - 1, d, h, mi).getTime();
  return Number.isFinite(ms) ? ms : null;
}
