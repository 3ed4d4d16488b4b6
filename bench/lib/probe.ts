/**
 * What one load client sees on its socket while it syncs: when it sent each document's sync
 * step 1 and when the step 2 answering it arrived (message timestamps, taken at the client), when
 * it held everything (synced), and how many WebSocket payload bytes it received meanwhile, split
 * by document when the frames can be read (Polyphony's Socket.IO MessagePack frames).
 */
import { performance } from 'node:perf_hooks';
import { bytesOf, parser, yPairs } from '../../shared/wire.js';

export class SyncProbe {
  /** When the client started connecting (performance.now() of this process). */
  readonly startedAt = performance.now();
  /** First sync step 1 sent for each document. */
  readonly step1Sent = new Map<string, number>();
  /** First sync step 2 received for each document. */
  readonly step2At = new Map<string, number>();
  syncedAt: number | null = null;
  /**
   * When the connection was accepted (Socket.IO `connect`): for a document the server sends by
   * itself (the handshake said the device does not hold it) no step 1 is sent, and its step 2 is
   * counted from here.
   */
  connectedAt: number | null = null;
  /** WebSocket payload bytes and messages received since the start (every frame of this socket). */
  bytes = 0;
  frames = 0;
  /** Bytes received until synced (set when synced). */
  bytesToSynced: number | null = null;
  /** Bytes by document id (Polyphony: `meeting`, voice ids; and `control` for other events), until synced. */
  readonly bytesByDoc = new Map<string, number>();
  /** The document a data-plane name (`DocTag`) names, as the client knows it. */
  docOf: (tag: unknown) => string | undefined = (tag) => (typeof tag === 'string' ? tag : undefined);
  readonly synced: Promise<void>;
  #resolve!: () => void;

  constructor(readonly splitByDoc = false) {
    this.synced = new Promise<void>((resolve) => {
      this.#resolve = resolve;
    });
  }

  sent1(doc: string): void {
    if (!this.step1Sent.has(doc)) this.step1Sent.set(doc, performance.now());
  }

  got2(doc: string): void {
    if (!this.step2At.has(doc)) this.step2At.set(doc, performance.now());
  }

  received(bytes: number): void {
    this.frames++;
    this.bytes += bytes;
  }

  addDocBytes(doc: string, bytes: number): void {
    if (this.syncedAt === null) this.bytesByDoc.set(doc, (this.bytesByDoc.get(doc) ?? 0) + bytes);
  }

  markSynced(): void {
    if (this.syncedAt !== null) return;
    this.syncedAt = performance.now();
    this.bytesToSynced = this.bytes;
    this.#resolve();
  }

  /** connect → synced (ms), or null while not synced. */
  get connectToSyncedMs(): number | null {
    return this.syncedAt === null ? null : this.syncedAt - this.startedAt;
  }

  /**
   * The server's part: the time during which at least one document's step 1 was unanswered (the
   * union of the intervals step 1 sent → step 2 arrived). One document: exactly that interval.
   */
  serverMs(): number {
    const spans: Array<[number, number]> = [];
    for (const [doc, t2] of this.step2At) {
      const t1 = this.step1Sent.get(doc) ?? this.connectedAt;
      if (t1 !== null && t2 >= t1) spans.push([t1, t2]);
    }
    spans.sort((a, b) => a[0] - b[0]);
    let total = 0;
    let from = -Infinity;
    let to = -Infinity;
    for (const [a, b] of spans) {
      if (a > to) {
        if (to > from) total += to - from;
        from = a;
        to = b;
      } else if (b > to) to = b;
    }
    if (to > from) total += to - from;
    return total;
  }
}

/** Sync message kind from the first bytes of a y-protocols message: 'step1', 'step2', or null. */
export function syncKind(bytes: Uint8Array): 'step1' | 'step2' | null {
  if (bytes.length < 2 || bytes[0] !== 0) return null;
  return bytes[1] === 0 ? 'step1' : bytes[1] === 1 ? 'step2' : null;
}

/** The same, from a message argument as it arrived (bytes). */
export function syncKindOf(message: unknown): 'step1' | 'step2' | null {
  const bytes = bytesOf(message);
  return bytes ? syncKind(bytes) : null;
}

/**
 * Attribute one received WebSocket frame's bytes to documents. Polyphony's Socket.IO packets are
 * MessagePack (binary frames): `["y", doc, bytes, doc, bytes, …]` shared among its docs by their
 * payload lengths, any other event to `control`; engine.io's own
 * text frames (pings) and unreadable frames to `other`.
 */
export function splitFrame(probe: SyncProbe, data: Buffer, isBinary: boolean): void {
  const n = data.length;
  if (!isBinary) return probe.addDocBytes('other', n);
  let packet: { type?: unknown; data?: unknown } | null = null;
  const decoder = new parser.Decoder();
  decoder.on('decoded', (p: { type?: unknown; data?: unknown }) => (packet = p));
  try {
    decoder.add(data);
  } catch {
    return probe.addDocBytes('other', n);
  }
  const args = (packet as { data?: unknown } | null)?.data;
  if (!Array.isArray(args)) return probe.addDocBytes('control', n);
  const [event, ...rest] = args as unknown[];
  const parts = event === 'y' ? yPairs(rest).filter(([doc]) => probe.docOf(doc) !== undefined) : [];
  if (parts.length > 0) {
    const size = (x: unknown) => bytesOf(x)?.length ?? 0;
    const total = parts.reduce((sum, [, p]) => sum + size(p), 0) || 1;
    for (const [doc, p] of parts) probe.addDocBytes(probe.docOf(doc)!, (n * size(p)) / total);
  } else {
    probe.addDocBytes('control', n);
  }
}

/** `promise`, or a rejection after `ms` (every wait is bounded). */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
