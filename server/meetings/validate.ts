/**
 * Well-formedness of an update to a voice document, checked *before* it is applied, so an
 * update is applied whole or not at all.
 *
 * A voice document is one append-only Y.Array (`log`) of JSON entries. An update may only:
 * - insert JSON entries (ContentAny) into that array — no nested types, no map keys, no text;
 * - delete nothing (amending or withdrawing is a new entry; the history stays visible);
 * - depend only on what the server already has (no gaps, no unknown origins), so Yjs integrates
 *   it completely instead of parking part of it as "pending";
 * - carry entries that are plain JSON data (own properties, plain prototype, no `__proto__`,
 *   `constructor` or `prototype` keys) matching the record model's schema (shared/record.ts).
 * Who may write which document is decided before this (only the owner writes their voice).
 */
import * as Y from 'yjs';
import { Refusal, type RefusalCode } from '../../shared/protocol.js';
import { VOICE_LOG, isVoiceEntry, type VoiceEntry } from '../../shared/record.js';

export interface Problem {
  code: RefusalCode;
  message: string;
}

/**
 * `mayUse(client)` says whether the writer may use a Yjs client id: a client id belongs to the
 * participant in whose voice it first appeared, so nobody can write under another person's id.
 */
export function checkVoiceUpdate(
  doc: Y.Doc,
  update: Uint8Array,
  mayUse: (client: number) => boolean,
): { problem: Problem } | { problem: null; fresh: VoiceEntry[]; clients: Set<number> } {
  const result = check(doc, update, mayUse);
  return 'code' in result ? { problem: result } : { problem: null, ...result };
}

/**
 * Whether every deletion in `ds` is one the server already made (an erasure): a device's sync
 * step 2 always carries every deletion it knows, so those must pass; any other deletion is refused.
 */
function alreadyDeleted(doc: Y.Doc, ds: ReturnType<typeof Y.createDeleteSet>): boolean {
  const server = Y.createDeleteSetFromStructStore(doc.store);
  for (const [client, items] of ds.clients) {
    const have = server.clients.get(client) ?? [];
    for (const { clock, len } of items) {
      // Server ranges are sorted and merged: one of them must hold the whole range.
      if (!have.some((h) => h.clock <= clock && clock + len <= h.clock + h.len)) return false;
    }
  }
  return true;
}

/**
 * The checks, and what the update adds: the entries the server does not have yet (read straight
 * from the update, so the cost grows with the update, never with the document) and its client ids.
 */
function check(
  doc: Y.Doc,
  update: Uint8Array,
  mayUse: (client: number) => boolean,
): Problem | { fresh: VoiceEntry[]; clients: Set<number> } {
  let decoded: ReturnType<typeof Y.decodeUpdate>;
  try {
    decoded = Y.decodeUpdate(update);
  } catch {
    return { code: Refusal.malformed, message: 'The update could not be decoded.' };
  }
  const { structs, ds } = decoded;
  if (ds.clients.size > 0 && !alreadyDeleted(doc, ds)) {
    return {
      code: Refusal.malformed,
      message: 'A voice record is append-only: an update may not delete anything. Amend or withdraw with a new entry.',
    };
  }
  // How far the server's copy plus this update reach, per Yjs client.
  const reach = new Map<number, number>();
  const known = (client: number): number => reach.get(client) ?? Y.getState(doc.store, client);
  for (const s of structs) {
    if (!(s instanceof Y.Item)) {
      return { code: Refusal.malformed, message: 'Only new entries may be added to a voice record.' };
    }
    const { client, clock } = s.id;
    if (!mayUse(client)) {
      return { code: Refusal.notYourDocument, message: "That Yjs client id belongs to someone else's voice." };
    }
    if (clock > known(client)) {
      return {
        code: Refusal.missingDependencies,
        message: 'The update depends on earlier edits the server does not have.',
      };
    }
    reach.set(client, Math.max(known(client), clock + s.length));
  }
  const fresh: VoiceEntry[] = [];
  const clients = new Set<number>();
  for (const s of structs as Y.Item[]) {
    clients.add(s.id.client);
    if (!(s.content instanceof Y.ContentAny) || s.parentSub !== null) {
      return { code: Refusal.malformed, message: 'A voice record holds only plain entries in its log.' };
    }
    const parent: unknown = s.parent;
    if (parent === null) {
      if (s.origin === null && s.rightOrigin === null) {
        return { code: Refusal.malformed, message: 'An entry has no place in the record.' };
      }
    } else if (parent !== VOICE_LOG) {
      return { code: Refusal.malformed, message: `Entries belong in the "${VOICE_LOG}" list only.` };
    }
    for (const o of [s.origin, s.rightOrigin]) {
      if (o && o.clock >= known(o.client)) {
        return {
          code: Refusal.missingDependencies,
          message: 'The update refers to an entry the server does not have.',
        };
      }
    }
    const already = Math.max(0, Y.getState(doc.store, s.id.client) - s.id.clock);
    s.content.arr.forEach((entry, i) => {
      if (i >= already) fresh.push(entry as VoiceEntry);
    });
    for (const entry of s.content.arr) {
      // Plain JSON data, own properties only (lib0 makes an encoded `__proto__` key the prototype).
      if (!isVoiceEntry(entry)) {
        return { code: Refusal.malformed, message: 'An entry does not have the shape of a record entry.' };
      }
    }
  }
  return { fresh, clients };
}
