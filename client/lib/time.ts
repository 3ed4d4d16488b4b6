/** Times as people read them, in the device's own locale. */
const hm = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayHm = new Intl.DateTimeFormat(undefined, {
  weekday: 'short',
  day: 'numeric',
  month: 'long',
  hour: '2-digit',
  minute: '2-digit',
});

export function clock(ms: number): string {
  return hm.format(ms);
}

export function dayAndTime(ms: number): string {
  return dayHm.format(ms);
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** Device and server times further apart than this mean the words were written offline (or the clock is off). */
export const OFFLINE_GAP_MS = 60_000;

const dayDate = new Intl.DateTimeFormat(undefined, { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' });

/** "Tuesday 3 March 2026". */
export function longDate(ms: number): string {
  return dayDate.format(ms);
}

/** A length of time in plain words: "40 minutes", "6 hours", "3 days". */
export function duration(ms: number): string {
  const minutes = Math.round(Math.abs(ms) / 60_000);
  if (minutes < 1) return 'less than a minute';
  if (minutes < 60) return minutes === 1 ? '1 minute' : `${minutes} minutes`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return hours === 1 ? '1 hour' : `${hours} hours`;
  const days = Math.round(hours / 24);
  return `${days} days`;
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
