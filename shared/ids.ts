/**
 * Identifiers and secrets.
 *
 * Every id and secret is 128 bits of randomness written as 22 base64url characters.
 * The fixed length and alphabet mean an id can never be an object key such as
 * `__proto__` or `constructor`, nor a path such as `..`.
 */
export const ID_PATTERN = /^[A-Za-z0-9_-]{22}$/;

/** Short ids for entries inside one voice document (unique within that document). */
export const ENTRY_ID_PATTERN = /^[A-Za-z0-9_-]{6,22}$/;

/**
 * A meeting's short code, read aloud in the room: ten digits (shown as 412 857 9036). It admits
 * to the join page for a few hours after the meeting opened, and only while it is open; lookups
 * are rate-limited per address and, on each instance, for everyone at once, so guessing one is hopeless.
 */
export const CODE_PATTERN = /^\d{10}$/;
/** How long a short code admits anyone after the meeting opened (ms). */
export const CODE_LIFETIME_MS = 12 * 60 * 60 * 1000;

/** Digits only ("412 857-9036" as typed or read out → "4128579036"). */
export function normalCode(typed: string): string {
  return typed.replace(/[\s\-.]/g, '');
}

/** The id of the meeting document that only the server writes. */
export const MEETING_DOC = 'meeting';

export function isId(value: unknown): value is string {
  return typeof value === 'string' && ID_PATTERN.test(value);
}

function base64url(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replaceAll('+', '-').replaceAll('/', '_').replaceAll('=', '');
}

/** 128 random bits as 22 base64url characters (Web Crypto: browser and Node alike). */
export function randomId(): string {
  return base64url(crypto.getRandomValues(new Uint8Array(16)));
}

/**
 * A short id for an entry inside one's own voice document: 6 characters, 36 random bits. It need
 * only be unique within that one voice: a device never draws one its voice already holds (see
 * `MeetingConnection`), and should two devices of one person draw the same one offline, the server
 * refuses the second and that device sends it again under a new id. Every entry carries its id
 * twice on the wire (in the voice, and in the server's order mark for it), so each character saved
 * is two bytes on every delivery. (Entries from before protocol 4 have 12.)
 */
export function randomEntryId(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  let s = '';
  for (const b of crypto.getRandomValues(new Uint8Array(6))) s += alphabet[b & 63];
  return s;
}

/** A reference to an entry: the voice (participant id) that wrote it and its id there. */
export function refOf(voice: string, id: string): string {
  return `${voice}/${id}`;
}
