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
import { toBase64 } from '../../shared/wire.js';
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

function isOrderMark(x: unknown): x is OrderMark {
  const m = x as Partial<OrderMark> | null;
  return (
    typeof m === 'object' &&
    m !== null &&
    typeof m.v === 'string' &&
    typeof m.id === 'string' &&
    typeof m.at === 'number'
  );
}

// ── Polyphony ──────────────────────────────────────────────────────────────────────────

export class PolyphonyClient implements BenchClient {
  readonly #watched = new Set<Y.Doc>();

  private constructor(
    readonly index: number,
    readonly conn: MeetingConnection,
    readonly sink: Sink | null,
  ) {
    conn.subscribe(() => this.#watch());
    const traffic = sink?.traffic;
    if (traffic) {
      // Each Socket.IO event is one WebSocket text frame: 42["event",…args] (no binary attachments).
      conn.socket.onAny((event: string, ...args: unknown[]) => {
        traffic.frames++;
        traffic.bytes += 2 + JSON.stringify([event, ...args]).length;
      });
    }
    if (sink?.mark) {
      const mark = sink.mark.bind(sink);
      conn.meetingDoc.on('update', (update: Uint8Array) => {
        for (const m of insertedValues(update)) if (isOrderMark(m)) mark(index, m.id);
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
  ): Promise<PolyphonyClient> {
    const conn = new MeetingConnection({
      url,
      meetingId: admission.meetingId,
      token: admission.personalToken,
      socket: { forceNew: true, transports: ['websocket'] },
    });
    const client = new PolyphonyClient(index, conn, sink);
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
    return this.conn.say(text);
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

  private constructor(
    readonly index: number,
    url: string,
    room: string,
    sink: Sink | null,
    awareness: boolean,
  ) {
    const aw = new Awareness(this.doc);
    // Without awareness, only the edits travel (as with Polyphony's clients, which publish no
    // awareness unless typing). With it, y-websocket's default {} state is renewed every 15 s,
    // which also keeps the provider's 30 s "no message received" check from reconnecting idle rooms.
    if (!awareness) aw.setLocalState(null);
    const traffic = sink?.traffic;
    const Socket = traffic ? countingWebSocket(traffic) : WS;
    this.provider = new WebsocketProvider(url.replace(/^http/, 'ws'), room, this.doc, {
      WebSocketPolyfill: Socket as unknown as typeof WebSocket,
      // Clients in one process would otherwise reach each other through BroadcastChannel, not the server.
      disableBc: true,
      awareness: aw,
    });
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
    opts: { awareness?: boolean; timeoutMs?: number } = {},
  ): Promise<BaselineClient> {
    const client = new BaselineClient(index, url, room, sink, opts.awareness ?? false);
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

/** `ws`, counting every message it receives into `traffic`. */
function countingWebSocket(traffic: Traffic): unknown {
  return class CountingWebSocket extends WS {
    constructor(address: string | URL, protocols?: string | string[]) {
      super(address, protocols);
      this.on('message', (data: WS.RawData) => {
        traffic.frames++;
        traffic.bytes += Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : data.byteLength;
      });
    }
  };
}

/** The bench process's own CPU time (ms) and event-loop view, for context in the results. */
export function processCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

export const now = (): number => performance.now();
