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
import * as decoding from 'lib0/decoding';
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
 * Whether an update (or sync step 2) holds nothing the server's copy of `doc` lacks: every struct
 * within what the server has, every deletion one the server made. A stock y-protocols client
 * answers the server's sync step 1 with such a step 2, for any document it holds: applying it
 * would change nothing, so it is accepted as a no-op whoever owns the document (SPEC 1, 2).
 * Anything that cannot be decoded is not "nothing new" (the checks that follow refuse it).
 */
export function carriesNothingNew(doc: Y.Doc, update: Uint8Array): boolean {
  let decoded: ReturnType<typeof Y.decodeUpdate>;
  try {
    decoded = Y.decodeUpdate(update);
  } catch {
    return false;
  }
  for (const s of decoded.structs) {
    if (s.id.clock + s.length > Y.getState(doc.store, s.id.client)) return false;
  }
  return decoded.ds.clients.size === 0 || alreadyDeleted(doc, decoded.ds);
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
  // How far the server's copy plus this update reach, per Yjs client. Yjs integrates one block of
  // structs per client (a second block for the same client replaces the first), so the structs of
  // each client must form one run, each starting where the one before ended: then what is counted
  // as new below is exactly what Yjs integrates.
  const reach = new Map<number, number>();
  const known = (client: number): number => reach.get(client) ?? Y.getState(doc.store, client);
  const runs = new Map<number, Y.Item[]>();
  const ends = new Map<number, number>();
  let previous: number | null = null;
  for (const s of structs) {
    if (!(s instanceof Y.Item)) {
      return { code: Refusal.malformed, message: 'Only new entries may be added to a voice record.' };
    }
    const { client, clock } = s.id;
    if (!mayUse(client)) {
      return { code: Refusal.notYourDocument, message: "That Yjs client id belongs to someone else's voice." };
    }
    const run = runs.get(client);
    if (run && (previous !== client || clock !== ends.get(client))) {
      return {
        code: Refusal.malformed,
        message: 'The update holds overlapping or separate blocks of edits for one Yjs client.',
      };
    }
    if (clock > known(client)) {
      return {
        code: Refusal.missingDependencies,
        message: 'The update depends on earlier edits the server does not have.',
      };
    }
    if (run) run.push(s);
    else runs.set(client, [s]);
    previous = client;
    ends.set(client, clock + s.length);
    reach.set(client, Math.max(known(client), clock + s.length));
  }
  // Decoding lists the structs of every block; Yjs keeps one block per client. So there must be
  // exactly one block per client (no second one, no empty one).
  if (decoding.readVarUint(decoding.createDecoder(update)) !== runs.size) {
    return {
      code: Refusal.malformed,
      message: 'The update holds overlapping or separate blocks of edits for one Yjs client.',
    };
  }
  const freshOf = new Map<Y.Item, VoiceEntry[]>();
  const clients = new Set<number>();
  const ids = entryIds(doc);
  const freshIds = new Set<string>();
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
    for (const entry of s.content.arr) {
      // Plain JSON data, own properties only (lib0 makes an encoded `__proto__` key the prototype).
      if (!isVoiceEntry(entry)) {
        return { code: Refusal.malformed, message: 'An entry does not have the shape of a record entry.' };
      }
    }
    const already = Math.max(0, Y.getState(doc.store, s.id.client) - s.id.clock);
    for (const [i, entry] of (s.content.arr as VoiceEntry[]).entries()) {
      if (i < already) continue;
      // An entry id names one entry of the voice for good: a second entry under it would be
      // invisible (the record shows the first), and its order mark would place the first.
      if (ids.has(entry.id) || freshIds.has(entry.id)) {
        return {
          code: Refusal.malformed,
          message: 'An entry with this id is already in your record. Every entry needs its own id.',
        };
      }
      freshIds.add(entry.id);
      const list = freshOf.get(s) ?? [];
      list.push(entry);
      freshOf.set(s, list);
    }
  }
  const order = integrationOrder(doc, runs);
  if (!order) {
    return {
      code: Refusal.missingDependencies,
      message: 'The update refers to edits that cannot be placed before it.',
    };
  }
  // New entries in the order Yjs integrates them, each after what it refers to: for entries
  // appended one after another (on one or several clients) that is the order they were written.
  const fresh = order.flatMap((s) => freshOf.get(s) ?? []);
  return { fresh, clients };
}

/**
 * An order in which Yjs can integrate every struct of the update, each after what it refers to
 * (null if there is none): a simulation of its integration, so references in a cycle (or forward,
 * within one client) are refused rather than parked as "pending" and half-applied.
 */
function integrationOrder(doc: Y.Doc, runs: ReadonlyMap<number, readonly Y.Item[]>): Y.Item[] | null {
  const order: Y.Item[] = [];
  const state = new Map<number, number>();
  const at = (client: number) => state.get(client) ?? Y.getState(doc.store, client);
  const next = new Map<number, number>([...runs.keys()].map((c) => [c, 0]));
  let left = 0;
  for (const run of runs.values()) left += run.length;
  let progress = true;
  while (left > 0 && progress) {
    progress = false;
    for (const [client, run] of runs) {
      let i = next.get(client)!;
      while (i < run.length) {
        const s = run[i]!;
        const ready = [s.origin, s.rightOrigin].every((o) => !o || o.clock < at(o.client));
        if (!ready || s.id.clock > at(client)) break;
        state.set(client, Math.max(at(client), s.id.clock + s.length));
        order.push(s);
        i++;
        left--;
        progress = true;
      }
      next.set(client, i);
    }
  }
  return left === 0 ? order : null;
}

/**
 * The entry ids of a voice's log, kept current as updates are applied (cost per update grows
 * with the update, never with the document). Ids of erased entries stay taken.
 */
const idsOf = new WeakMap<Y.Doc, Set<string>>();
function entryIds(doc: Y.Doc): Set<string> {
  let ids = idsOf.get(doc);
  if (ids) return ids;
  const set = new Set<string>();
  const add = (entry: unknown) => {
    if (isVoiceEntry(entry)) set.add(entry.id);
  };
  for (const entry of doc.getArray<unknown>(VOICE_LOG).toArray()) add(entry);
  doc.on('afterTransaction', (tr: Y.Transaction) => {
    for (const [client, after] of tr.afterState) {
      const before = tr.beforeState.get(client) ?? 0;
      if (after <= before) continue;
      const structs = doc.store.clients.get(client) ?? [];
      for (let i = Y.findIndexSS(structs, before); i < structs.length; i++) {
        const s = structs[i]!;
        if (!(s instanceof Y.Item) || !(s.content instanceof Y.ContentAny)) continue;
        s.content.arr.forEach((entry, k) => {
          if (s.id.clock + k >= before) add(entry);
        });
      }
    }
  });
  ids = set;
  idsOf.set(doc, ids);
  return ids;
}
