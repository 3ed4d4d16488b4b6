/**
 * Load clients for both sides, behind one small interface.
 *
 * - Polyphony: the page's own network module, `MeetingConnection` (Socket.IO + Yjs, one voice
 *   document per participant). A client writes with `say()`, exactly as the page does.
 * - Baseline: y-websocket's `WebsocketProvider` (with `ws` as the WebSocket) on one shared
 *   document per room, pushing the same entry objects to one shared Y.Array.
 */
import { performance } from 'node:perf_hooks';
import WS from 'ws';
import * as Y from 'yjs';
import { Awareness } from 'y-protocols/awareness';
import { WebsocketProvider } from 'y-websocket';
import { MeetingConnection } from '../../client/lib/connection.js';
import { randomEntryId } from '../../shared/ids.js';
import type { Admission } from '../../shared/protocol.js';
import { VOICE_LOG, type OrderMark } from '../../shared/record.js';
import { toBase64 } from 'lib0/buffer';
import { bytesOf, yPairs } from '../../shared/wire.js';
import { MEETING_DOC } from '../../shared/ids.js';
import { SyncProbe, splitFrame, syncKind, syncKindOf } from './probe.js';
import { until } from './util.js';

/** What the clients received from the server: WebSocket messages and their payload bytes. */
export interface Traffic {
  frames: number;
  bytes: number;
}

export interface Sink {
  /** Count every message the clients receive here. */
  traffic?: Traffic;
  /** Client `client` now holds an entry with this text. */
  entry(client: number, text: string): void;
  /** Client `client` now holds the server's order mark for entry `entryId` (Polyphony only). */
  mark?(client: number, entryId: string): void;
  /** A write of client `client` made at `t0` (performance.now()) is now saved, `ms` later (Polyphony only). */
  saved?(client: number, t0: number, ms: number): void;
}

/** Per-client options: a sync probe (connect → synced, step timestamps, bytes). */
export interface ClientOptions {
  /** Record this client's sync (see probe.ts); `split`: also split its received bytes by document. */
  probe?: 'timing' | 'split';
}

export interface BenchClient {
  readonly index: number;
  /** Append one contribution; returns its entry id. */
  write(text: string): string;
  /** Append many entries in one Yjs transaction (one update on the wire). */
  writeMany(entries: BenchEntry[]): void;
  /** Number of entries this client holds, over all documents. */
  entries(): number;
  /** The client's document state; equal across clients once they have converged. */
  digest(): string;
  close(): void;
}

/** A plain contribution, the shape of a `say` entry in shared/record.ts. */
export interface BenchEntry {
  t: 'say';
  id: string;
  text: string;
  at: number;
}

export const entry = (text: string): BenchEntry => ({ t: 'say', id: randomEntryId(), text, at: Date.now() });

/** The text of a log entry (entries of other kinds may carry none). */
const textOf = (e: unknown): string => {
  const text = (e as { text?: unknown } | null)?.text;
  return typeof text === 'string' ? text : '';
};

/**
 * The JSON values an update inserts, read from the update itself: O(size of the update).
 * (Not from `event.changes` in an observer: Yjs computes that by walking the whole list, which
 * would cost the baseline's one shared array far more than Polyphony's small voice logs, and
 * measure the harness instead of the servers.)
 */
function insertedValues(update: Uint8Array): unknown[] {
  const out: unknown[] = [];
  for (const s of Y.decodeUpdate(update).structs) {
    if (s instanceof Y.Item && s.content instanceof Y.ContentAny) out.push(...s.content.arr);
  }
  return out;
}

/** The entry id an order mark names, in either stored form (see `StoredMark`); null for anything else. */
function markedEntry(x: unknown): string | null {
  if (Array.isArray(x)) return x.length === 3 && typeof x[0] === 'number' && typeof x[1] === 'string' ? x[1] : null;
  const m = x as Partial<OrderMark> | null;
  return typeof m === 'object' && m !== null && typeof m.v === 'string' && typeof m.id === 'string' ? m.id : null;
}

// ── Polyphony ──────────────────────────────────────────────────────────────────────────

export class PolyphonyClient implements BenchClient {
  readonly #watched = new Set<Y.Doc>();

  readonly probe: SyncProbe | null;
  /** Own writes not yet saved: the voice document's clock after each, and its time. */
  readonly #unsaved: Array<{ clock: number; t0: number }> = [];

  private constructor(
    readonly index: number,
    readonly conn: MeetingConnection,
    readonly sink: Sink | null,
    opts: ClientOptions = {},
  ) {
    conn.subscribe(() => this.#watch());
    const probe = opts.probe ? new SyncProbe(opts.probe === 'split') : null;
    this.probe = probe;
    const traffic = sink?.traffic;
    if (traffic || probe) {
      // WebSocket payload bytes, as the socket receives them (each engine.io connection's `ws`),
      // from the Engine.IO handshake on: the same count as the baseline's.
      const hooked = new WeakSet<object>();
      const hook = () => {
        const ws = (conn.socket.io.engine?.transport as unknown as { ws?: WS } | undefined)?.ws;
        if (!ws || hooked.has(ws) || typeof ws.on !== 'function') return;
        hooked.add(ws);
        ws.on('message', (data: WS.RawData, isBinary: boolean) => {
          const size = Array.isArray(data)
            ? data.reduce((a, b) => a + b.length, 0)
            : (data as Buffer | ArrayBuffer).byteLength;
          if (traffic) {
            traffic.frames++;
            traffic.bytes += size;
          }
          if (probe) {
            probe.received(size);
            if (probe.splitByDoc && probe.syncedAt === null) {
              const buf = Array.isArray(data)
                ? Buffer.concat(data)
                : Buffer.isBuffer(data)
                  ? data
                  : Buffer.from(data as ArrayBuffer);
              splitFrame(probe, buf, isBinary);
            }
          }
        });
      };
      conn.socket.io.on('open', hook);
    }
    if (probe) {
      conn.socket.on('connect', () => {
        probe.connectedAt ??= performance.now();
      });
      probe.docOf = (tag) => conn.docOf(tag);
      conn.socket.onAnyOutgoing((event: string, tag: unknown, message: unknown) => {
        const doc = conn.docOf(tag);
        if (event === 'y' && doc !== undefined && syncKindOf(message) === 'step1') probe.sent1(doc);
      });
      const check = () => {
        if (probe.syncedAt !== null || !probe.step2At.has(MEETING_DOC) || this.conn.voices.size === 0) return;
        for (const id of this.conn.voices.keys()) if (!probe.step2At.has(id)) return;
        probe.markSynced();
      };
      // (onAny listeners run before the event's own handlers: check once those have applied it.)
      conn.socket.onAny((event: string, ...args: unknown[]) => {
        if (probe.syncedAt !== null) return;
        if (event === 'y') {
          for (const [tag, message] of yPairs(args)) {
            const doc = conn.docOf(tag);
            if (doc !== undefined && syncKindOf(message) === 'step2') probe.got2(doc);
          }
        }
        setImmediate(check);
      });
      conn.subscribe(check);
    }
    if (sink?.saved) {
      const saved = sink.saved.bind(sink);
      conn.socket.on('saved', (doc: string, sv: Uint8Array | ArrayBuffer) => {
        const me = this.conn.me;
        const own = me ? this.conn.voices.get(me) : undefined;
        if (doc !== me || !own || this.#unsaved.length === 0) return;
        let clock: number;
        try {
          clock = Y.decodeStateVector(bytesOf(sv)!).get(own.clientID) ?? 0;
        } catch {
          return;
        }
        const t = performance.now();
        while (this.#unsaved.length && this.#unsaved[0]!.clock <= clock) {
          const w = this.#unsaved.shift()!;
          saved(index, w.t0, t - w.t0);
        }
      });
    }
    if (sink?.mark) {
      const mark = sink.mark.bind(sink);
      conn.meetingDoc.on('update', (update: Uint8Array) => {
        for (const m of insertedValues(update)) {
          const id = markedEntry(m);
          if (id !== null) mark(index, id);
        }
      });
    }
  }

  /** Connect with a personal token; resolves once the server has welcomed it (bounded). */
  static async connect(
    url: string,
    admission: Admission,
    index: number,
    sink: Sink | null,
    timeoutMs = 30_000,
    opts: ClientOptions = {},
  ): Promise<PolyphonyClient> {
    const conn = new MeetingConnection({
      url,
      meetingId: admission.meetingId,
      token: admission.personalToken,
      socket: { forceNew: true, transports: ['websocket'] },
    });
    const client = new PolyphonyClient(index, conn, sink, opts);
    try {
      await until(() => conn.me !== null && conn.status === 'connected', `client ${index} connected`, timeoutMs);
    } catch (e) {
      conn.close();
      throw e;
    }
    return client;
  }

  /** Observe every voice document's log as it appears (and what it already holds). */
  #watch(): void {
    const sink = this.sink;
    if (!sink || this.#watched.size === this.conn.voices.size) return;
    for (const doc of this.conn.voices.values()) {
      if (this.#watched.has(doc)) continue;
      this.#watched.add(doc);
      // What it already holds, then every update from now on.
      for (const e of doc.getArray<unknown>(VOICE_LOG).toArray()) sink.entry(this.index, textOf(e));
      doc.on('update', (update: Uint8Array) => {
        for (const e of insertedValues(update)) sink.entry(this.index, textOf(e));
      });
    }
  }

  write(text: string): string {
    const t0 = performance.now();
    const id = this.conn.say(text);
    if (this.sink?.saved) {
      const own = this.conn.me ? this.conn.voices.get(this.conn.me) : undefined;
      if (own) this.#unsaved.push({ clock: Y.getState(own.store, own.clientID), t0 });
    }
    return id;
  }

  writeMany(entries: BenchEntry[]): void {
    const me = this.conn.me;
    const own = me ? this.conn.voices.get(me) : undefined;
    if (!own) throw new Error('not connected yet');
    own.getArray<BenchEntry>(VOICE_LOG).push(entries);
  }

  entries(): number {
    let n = 0;
    for (const doc of this.conn.voices.values()) n += doc.getArray(VOICE_LOG).length;
    return n;
  }

  digest(): string {
    const ids = [...this.conn.voices.keys()].sort();
    const parts = ids.map((id) => `${id}:${toBase64(Y.encodeStateVector(this.conn.voices.get(id)!))}`);
    return `${parts.join(',')}|order:${this.conn.order.length}`;
  }

  close(): void {
    this.conn.close();
  }
}

// ── Baseline: y-websocket ──────────────────────────────────────────────────────────────

export class BaselineClient implements BenchClient {
  readonly doc = new Y.Doc();
  readonly log = this.doc.getArray<unknown>(VOICE_LOG);
  readonly provider: WebsocketProvider;

  readonly probe: SyncProbe | null;

  private constructor(
    readonly index: number,
    url: string,
    room: string,
    sink: Sink | null,
    awareness: boolean,
    probeMode?: ClientOptions['probe'],
  ) {
    const aw = new Awareness(this.doc);
    // Without awareness, only the edits travel (as with Polyphony's clients, which publish no
    // awareness unless typing). With it, y-websocket's default {} state is renewed every 15 s,
    // which also keeps the provider's 30 s "no message received" check from reconnecting idle rooms.
    if (!awareness) aw.setLocalState(null);
    const traffic = sink?.traffic;
    const probe = probeMode ? new SyncProbe(probeMode === 'split') : null;
    this.probe = probe;
    const Socket = traffic || probe ? countingWebSocket(traffic ?? null, probe, room) : WS;
    this.provider = new WebsocketProvider(url.replace(/^http/, 'ws'), room, this.doc, {
      WebSocketPolyfill: Socket as unknown as typeof WebSocket,
      // Clients in one process would otherwise reach each other through BroadcastChannel, not the server.
      disableBc: true,
      awareness: aw,
    });
    if (probe) {
      this.provider.on('sync', (synced: boolean) => {
        if (synced) probe.markSynced();
      });
    }
    if (sink) {
      this.doc.on('update', (update: Uint8Array) => {
        for (const e of insertedValues(update)) sink.entry(index, textOf(e));
      });
    }
  }

  /** Connect to `room`; resolves once the first sync with the server is done (bounded). */
  static async connect(
    url: string,
    room: string,
    index: number,
    sink: Sink | null,
    opts: { awareness?: boolean; timeoutMs?: number } & ClientOptions = {},
  ): Promise<BaselineClient> {
    const client = new BaselineClient(index, url, room, sink, opts.awareness ?? false, opts.probe);
    try {
      await until(() => client.provider.synced, `baseline client ${index} synced`, opts.timeoutMs ?? 30_000);
    } catch (e) {
      client.close();
      throw e;
    }
    return client;
  }

  write(text: string): string {
    const e = entry(text);
    this.log.push([e]);
    return e.id;
  }

  writeMany(entries: BenchEntry[]): void {
    this.log.push(entries);
  }

  entries(): number {
    return this.log.length;
  }

  digest(): string {
    return toBase64(Y.encodeStateVector(this.doc));
  }

  close(): void {
    this.provider.destroy();
    this.doc.destroy();
  }
}

/** `ws`, counting every message it receives into `traffic` and (with a probe) its sync steps. */
function countingWebSocket(traffic: Traffic | null, probe: SyncProbe | null, doc: string): unknown {
  return class CountingWebSocket extends WS {
    constructor(address: string | URL, protocols?: string | string[]) {
      super(address, protocols);
      this.on('message', (data: WS.RawData) => {
        const bytes = Array.isArray(data) ? Buffer.concat(data) : new Uint8Array(data as ArrayBuffer);
        if (traffic) {
          traffic.frames++;
          traffic.bytes += bytes.byteLength;
        }
        if (probe) {
          probe.received(bytes.byteLength);
          probe.addDocBytes(doc, bytes.byteLength);
          if (syncKind(bytes) === 'step2') probe.got2(doc);
        }
      });
    }

    override send(data: unknown, ...rest: unknown[]): void {
      if (probe && data instanceof Uint8Array && syncKind(data) === 'step1') probe.sent1(doc);
      (super.send as (...a: unknown[]) => void)(data, ...rest);
    }
  };
}

/** The bench process's own CPU time (ms) and event-loop view, for context in the results. */
export function processCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

export const now = (): number => performance.now();
