/**
 * Encoding for the data plane, used by both sides: Socket.IO packets as MessagePack (so a Yjs
 * message travels as bytes, in one WebSocket frame), and y-protocols sync and awareness messages.
 */
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import * as msgpackParser from 'socket.io-msgpack-parser';
import * as syncProtocol from 'y-protocols/sync';
import type * as Y from 'yjs';
import { MEETING_DOC, isId } from './ids.js';
import { Y_MESSAGE } from './protocol.js';

/**
 * The Socket.IO parser of both sides (`parser` option of the server and of `io()`): every packet
 * is one MessagePack frame, bytes stay bytes. A client built on the default parser cannot talk to
 * this server.
 */
export const parser = msgpackParser;

/**
 * How the data plane (`y`) names a document: by its number in the meeting (0 the meeting
 * document, n the voice of the person numbered n; `welcome.docs` and `voice` say which is which),
 * a few bytes where an id takes 23. A client may also name one by its id; the server does so only
 * for a document that has no number.
 */
export type DocTag = number | string;

/** Whether `x` is a well-formed document name: a document number, `meeting`, or an id. */
export function isDocTag(x: unknown): x is DocTag {
  if (typeof x === 'number') return Number.isSafeInteger(x) && x >= 0;
  return typeof x === 'string' && (x === MEETING_DOC || isId(x));
}

/**
 * The numbers that name a meeting's documents on the data plane, on either side: the server gives
 * them (`Person.n`); a client learns them from `welcome.docs` and `voice`.
 */
export class DocNames {
  readonly #ids: string[] = [MEETING_DOC];
  readonly #numbers = new Map<string, number>([[MEETING_DOC, 0]]);

  /** Number `n` names voice `id` from now on. False (and nothing changes) for anything else. */
  name(n: unknown, id: unknown): boolean {
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1 || n > 1_000_000 || !isId(id)) return false;
    if (this.#numbers.has(id) || this.#ids[n] !== undefined) return false;
    this.#ids[n] = id;
    this.#numbers.set(id, n);
    return true;
  }

  /** How a document is named on the wire: its number, or its id should it have none. */
  tagOf(id: string): DocTag {
    return this.#numbers.get(id) ?? id;
  }

  /** The id a wire name names: a number (if known), or the id itself. */
  idOf(tag: unknown): string | undefined {
    if (typeof tag === 'number') return this.#ids[tag];
    return typeof tag === 'string' ? tag : undefined;
  }

  /** The next number to give. */
  get next(): number {
    return this.#ids.length;
  }

  /** Every id at the index of its number ('' for a number that names none): `welcome.docs`. */
  list(): string[] {
    return Array.from(this.#ids, (id) => id ?? '');
  }
}

/** Bytes as they may arrive: a Uint8Array (Node gives a Buffer) or, in a browser, an ArrayBuffer. */
export type WireBytes = Uint8Array | ArrayBuffer;

/**
 * Bytes that arrived as a message argument, as a plain Uint8Array view (no copy; never a Node
 * Buffer, whose JSON form is an array of numbers); null for anything else.
 */
export function bytesOf(x: unknown): Uint8Array | null {
  if (x instanceof ArrayBuffer) return new Uint8Array(x);
  if (x instanceof Uint8Array) return new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
  return null;
}

/**
 * The arguments of a server's `y` event: one or more (document, message) pairs, flat —
 * `y(doc, message, doc, message, …)` — each message as `sendable` makes it. One frame, applied in order.
 */
export function yArgs(messages: ReadonlyArray<readonly [DocTag, Uint8Array]>): Array<DocTag | WireBytes> {
  const out: Array<DocTag | WireBytes> = [];
  for (const [doc, m] of messages) out.push(doc, sendable(m));
  return out;
}

/** The (document, message) pairs of a `y` event's arguments, unchecked (an odd last one is dropped). */
export function yPairs(args: readonly unknown[]): Array<[unknown, unknown]> {
  const out: Array<[unknown, unknown]> = [];
  for (let i = 0; i + 1 < args.length; i += 2) out.push([args[i], args[i + 1]]);
  return out;
}

/** Node's Buffer, where there is one (the server, scripts); a browser has none. */
const NodeBuffer = (globalThis as { Buffer?: { from(b: ArrayBufferLike, offset: number, length: number): Uint8Array } })
  .Buffer;

/**
 * Bytes as a message argument, so that MessagePack writes them as `bin`: in Node a Buffer (a view,
 * no copy; any other typed array or ArrayBuffer would become an `ext`), in a browser an ArrayBuffer
 * (a Uint8Array would become a map of numbers).
 */
export function sendable(bytes: Uint8Array): WireBytes {
  if (NodeBuffer) return NodeBuffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer)
    return bytes.buffer;
  return bytes.slice().buffer;
}

export const SYNC_STEP1 = syncProtocol.messageYjsSyncStep1;
export const SYNC_STEP2 = syncProtocol.messageYjsSyncStep2;
export const SYNC_UPDATE = syncProtocol.messageYjsUpdate;

export function syncStep1(doc: Y.Doc): Uint8Array {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, Y_MESSAGE.sync);
  syncProtocol.writeSyncStep1(e, doc);
  return encoding.toUint8Array(e);
}

export function syncStep2(doc: Y.Doc, stateVector?: Uint8Array): Uint8Array {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, Y_MESSAGE.sync);
  syncProtocol.writeSyncStep2(e, doc, stateVector);
  return encoding.toUint8Array(e);
}

export function syncUpdate(update: Uint8Array): Uint8Array {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, Y_MESSAGE.sync);
  syncProtocol.writeUpdate(e, update);
  return encoding.toUint8Array(e);
}

/** A decoded y-protocols message. Throws on anything malformed, including trailing bytes. */
export type YMessage =
  | { kind: 'step1'; stateVector: Uint8Array }
  | { kind: 'step2' | 'update'; update: Uint8Array }
  | { kind: 'awareness'; update: Uint8Array };

export function decodeYMessage(bytes: Uint8Array): YMessage {
  const d = decoding.createDecoder(bytes);
  const type = decoding.readVarUint(d);
  let msg: YMessage;
  if (type === Y_MESSAGE.sync) {
    const sub = decoding.readVarUint(d);
    const payload = decoding.readVarUint8Array(d);
    if (sub === SYNC_STEP1) msg = { kind: 'step1', stateVector: payload };
    else if (sub === SYNC_STEP2) msg = { kind: 'step2', update: payload };
    else if (sub === SYNC_UPDATE) msg = { kind: 'update', update: payload };
    else throw new Error(`unknown sync message type ${sub}`);
  } else if (type === Y_MESSAGE.awareness) {
    msg = { kind: 'awareness', update: decoding.readVarUint8Array(d) };
  } else {
    throw new Error(`unknown message type ${type}`);
  }
  if (decoding.hasContent(d)) throw new Error('trailing bytes after message');
  return msg;
}

/** One client's entry in a y-protocols awareness update. `state` null means "gone". */
export interface AwarenessEntry {
  clientID: number;
  clock: number;
  state: unknown;
}

/** Decode the payload of an awareness message (standard y-protocols encoding). Throws if malformed. */
export function decodeAwareness(update: Uint8Array): AwarenessEntry[] {
  const d = decoding.createDecoder(update);
  const n = decoding.readVarUint(d);
  if (n > 16) throw new Error('too many awareness entries');
  const out: AwarenessEntry[] = [];
  for (let i = 0; i < n; i++) {
    const clientID = decoding.readVarUint(d);
    const clock = decoding.readVarUint(d);
    const json = decoding.readVarString(d);
    out.push({ clientID, clock, state: JSON.parse(json) as unknown });
  }
  if (decoding.hasContent(d)) throw new Error('trailing bytes after awareness update');
  return out;
}

export function encodeAwareness(entries: readonly AwarenessEntry[]): Uint8Array {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, entries.length);
  for (const { clientID, clock, state } of entries) {
    encoding.writeVarUint(e, clientID);
    encoding.writeVarUint(e, clock);
    encoding.writeVarString(e, JSON.stringify(state));
  }
  return encoding.toUint8Array(e);
}

export function awarenessMessage(entries: readonly AwarenessEntry[]): Uint8Array {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, Y_MESSAGE.awareness);
  encoding.writeVarUint8Array(e, encodeAwareness(entries));
  return encoding.toUint8Array(e);
}

/** The only awareness state a participant may publish: whether they are writing. */
export interface PresenceState {
  typing: boolean;
}
export function isPresenceState(value: unknown): value is PresenceState | null {
  if (value === null) return true;
  if (typeof value !== 'object' || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return keys.length === 1 && keys[0] === 'typing' && typeof (value as PresenceState).typing === 'boolean';
}

/** True when every clock in `local` is covered by `saved` (both encoded state vectors, decoded). */
export function covers(saved: ReadonlyMap<number, number>, local: ReadonlyMap<number, number>): boolean {
  for (const [client, clock] of local) {
    if ((saved.get(client) ?? 0) < clock) return false;
  }
  return true;
}
