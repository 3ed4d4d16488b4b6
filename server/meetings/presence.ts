/**
 * Who is connected to a meeting and who is writing: the connections (socket → participant) and
 * the awareness states they published. Presence and identity are the server's (SPEC 6, 7): an
 * awareness state is only ever `{typing: boolean}`, relayed re-encoded, never the sender's bytes.
 */
import { LIMITS } from '../../shared/limits.js';
import { Refusal } from '../../shared/errors.js';
import { awarenessMessage, decodeAwareness, isPresenceState, type AwarenessEntry } from '../../shared/wire.js';
import type { Problem } from './validate.js';

interface AwarenessHolder {
  doc: string;
  socketId: string;
  entry: AwarenessEntry;
}

export interface PresencePort {
  broadcast(doc: string, message: Uint8Array, exceptSocket?: string): void;
  presence(here: string[]): void;
}

export class Presence {
  readonly #connections = new Map<string, string>();
  readonly #awareness = new Map<number, AwarenessHolder>();

  constructor(
    readonly port: PresencePort,
    /** Whether a participant may use a Yjs client id; `claim` binds it to them. */
    readonly clients: {
      mayUse(client: number, participantId: string): boolean;
      claim(client: number, participantId: string): void;
    },
  ) {}

  connect(socketId: string, participantId: string): void {
    this.#connections.set(socketId, participantId);
    this.port.presence(this.here());
  }

  /** A connection left: its "is writing…" states go, and everyone learns who is here now. */
  disconnect(socketId: string): void {
    for (const [clientID, h] of this.#awareness) {
      if (h.socketId !== socketId) continue;
      this.#awareness.delete(clientID);
      this.port.broadcast(h.doc, awarenessMessage([{ clientID, clock: h.entry.clock + 1, state: null }]));
    }
    this.#connections.delete(socketId);
    this.port.presence(this.here());
  }

  here(): string[] {
    return [...new Set(this.#connections.values())];
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  /** The current awareness states, one message per document, for a new connection. */
  snapshot(): Array<[string, Uint8Array]> {
    const byDoc = new Map<string, AwarenessEntry[]>();
    for (const h of this.#awareness.values()) {
      const list = byDoc.get(h.doc) ?? [];
      list.push(h.entry);
      byDoc.set(h.doc, list);
    }
    return [...byDoc].map(([doc, entries]) => [doc, awarenessMessage(entries)]);
  }

  /** One awareness message from a connection. Returns the problem, or null when relayed. */
  receive(socketId: string, participantId: string, docId: string, update: Uint8Array): Problem | null {
    if (docId !== participantId) {
      return { code: Refusal.notYourAwareness, message: 'You can only say whether you yourself are writing.' };
    }
    if (update.length > LIMITS.awarenessBytes * 4)
      return { code: Refusal.tooLarge, message: 'The awareness update is too large.' };
    let entries: AwarenessEntry[];
    try {
      entries = decodeAwareness(update);
    } catch {
      return { code: Refusal.malformed, message: 'The awareness update could not be decoded.' };
    }
    for (const e of entries) {
      if (!this.clients.mayUse(e.clientID, participantId)) {
        return { code: Refusal.notYourAwareness, message: 'That awareness client id belongs to someone else.' };
      }
      if (!isPresenceState(e.state) || JSON.stringify(e.state).length > LIMITS.awarenessBytes) {
        return { code: Refusal.invalid, message: 'An awareness state may only be {"typing": true|false}.' };
      }
    }
    for (const e of entries) {
      this.clients.claim(e.clientID, participantId);
      const holder = this.#awareness.get(e.clientID);
      if (holder && e.clock <= holder.entry.clock) continue;
      if (e.state === null) this.#awareness.delete(e.clientID);
      else this.#awareness.set(e.clientID, { doc: docId, socketId, entry: e });
    }
    this.port.broadcast(docId, awarenessMessage(entries), socketId);
    return null;
  }
}
