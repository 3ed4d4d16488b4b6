/**
 * Encoding helpers for the data plane, used by both sides: y-protocols sync and awareness
 * messages, and base64 for carrying them as Socket.IO text.
 */
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import { fromBase64, toBase64 } from 'lib0/buffer';
import * as syncProtocol from 'y-protocols/sync';
import type * as Y from 'yjs';
import { Y_MESSAGE } from './protocol.js';

export { fromBase64, toBase64 };

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
