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
