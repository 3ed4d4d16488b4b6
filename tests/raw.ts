/**
 * Raw protocol clients for tests: socket.io-client and Yjs used directly, the way a script (or an
 * attacker holding a valid token) would, with no help from the page's network module.
 */
import * as encoding from 'lib0/encoding';
import { io, type Socket } from 'socket.io-client';
import * as Y from 'yjs';
import { MEETING_DOC } from '../shared/ids.js';
import { PROTOCOL_VERSION, Y_MESSAGE, type Refused, type Welcome } from '../shared/protocol.js';
import {
  DocNames,
  bytesOf,
  decodeYMessage,
  parser,
  sendable,
  syncStep1,
  type DocTag,
  type WireBytes,
  type YMessage,
  yPairs,
} from '../shared/wire.js';
import { onCleanup, until } from './helpers.js';

/** Anything that carries the `y` event: a raw socket, or a MeetingConnection's socket. */
export interface YSocket {
  emit(ev: 'y', doc: DocTag, message: WireBytes): unknown;
  on(ev: 'y', fn: (...pairs: unknown[]) => void): unknown;
  off(ev: 'y', fn: (...pairs: unknown[]) => void): unknown;
}

/**
 * Wait until the server has handled everything this socket sent before, and everything the server
 * sent to this socket before that has arrived: a sync step 1 for the meeting document is answered
 * in order on the same connection (one server process, one ordered socket).
 */
export async function barrier(socket: YSocket, timeoutMs = 10_000): Promise<void> {
  let answered = false;
  const fn = (...args: unknown[]) => {
    for (const [doc, message] of yPairs(args)) {
      if (doc !== 0 && doc !== MEETING_DOC) continue;
      try {
        if (decodeYMessage(bytesOf(message)!).kind === 'step2') answered = true;
      } catch {
        // not ours
      }
    }
  };
  socket.on('y', fn);
  try {
    socket.emit('y', MEETING_DOC, sendable(syncStep1(new Y.Doc())));
    await until(() => answered, 'barrier', timeoutMs);
  } finally {
    socket.off('y', fn);
  }
}

export interface RawOptions {
  meetingId: string;
  token?: string;
  /** Extra handshake headers, e.g. a session cookie or an Origin. */
  headers?: Record<string, string>;
  /** Override the whole auth payload (hostile handshakes). */
  auth?: unknown;
  /** HTTP long-polling instead of a WebSocket. */
  polling?: boolean;
}

export interface ConnectFailure {
  code: string | undefined;
  message: string;
}

/**
 * A raw participant: records everything the server sends (refusals, decoded `y` messages and any
 * it could not decode, how the handshake and the connection ended) and keeps read-only replicas
 * of documents. The one raw Socket.IO client of the tests.
 */
export class RawClient {
  readonly socket: Socket;
  readonly refusals: Refused[] = [];
  /** Every decodable `y` message (its document by id), with its size on the wire (bytes of the Yjs message). */
  readonly received: Array<{ doc: string; msg: YMessage; bytes: number }> = [];
  /** Document numbers as the server named them (`welcome.docs`, `voice`). */
  readonly names = new DocNames();
  /** Messages naming a document by a number the server never named. */
  readonly unnamed: unknown[] = [];
  /** `y` messages that did not decode (the server should never send one). */
  readonly undecodable: Array<{ doc: string; message: unknown }> = [];
  readonly replicas = new Map<string, Y.Doc>();
  welcome: Welcome | null = null;
  connectError: ConnectFailure | null = null;
  disconnectReason: string | null = null;
  here: string[] = [];
  saved = new Map<string, Uint8Array>();

  constructor(url: string, opts: RawOptions) {
    this.socket = io(url, {
      auth: (opts.auth ?? {
        protocol: PROTOCOL_VERSION,
        meetingId: opts.meetingId,
        ...(opts.token ? { token: opts.token } : {}),
      }) as Record<string, unknown>,
      parser,
      transports: opts.polling ? ['polling'] : ['websocket'],
      forceNew: true,
      reconnection: false,
      ...(opts.headers ? { extraHeaders: opts.headers } : {}),
    });
    this.socket.on('welcome', (w: Welcome) => {
      this.welcome = w;
      w.docs.forEach((id, n) => this.names.name(n, id));
      // What of your own voice is saved comes with the welcome.
      const sv = bytesOf(w.saved);
      if (sv) this.saved.set(w.participantId, sv);
    });
    this.socket.on('connect_error', (err: Error & { data?: { code?: string } }) => {
      this.connectError = { code: err.data?.code, message: err.message };
    });
    this.socket.on('disconnect', (reason: string) => (this.disconnectReason = reason));
    this.socket.on('presence', (here: string[]) => (this.here = here));
    this.socket.on('refused', (r: Refused) => this.refusals.push(r));
    this.socket.on('saved', (doc: string, sv: Uint8Array) => this.saved.set(doc, bytesOf(sv)!));
    this.socket.on('voice', (n: number, id: string) => this.names.name(n, id));
    const receive = (tag: unknown, message: unknown) => {
      const doc = this.names.idOf(tag);
      if (doc === undefined) {
        this.unnamed.push(tag as DocTag);
        return;
      }
      const bytes = bytesOf(message);
      let msg: YMessage;
      try {
        if (!bytes) throw new Error('not bytes');
        msg = decodeYMessage(bytes);
      } catch {
        this.undecodable.push({ doc, message });
        return;
      }
      this.received.push({ doc, msg, bytes: bytes.length });
      if (msg.kind === 'step2' || msg.kind === 'update') Y.applyUpdate(this.replica(doc), msg.update);
    };
    // One or more messages per frame (an update and the order marks it caused arrive together).
    this.socket.on('y', (...args: unknown[]) => {
      for (const [doc, message] of yPairs(args)) receive(doc, message);
    });
    onCleanup(async () => {
      this.socket.disconnect();
    });
  }

  /** Connect and wait for `welcome`. */
  static async connect(url: string, opts: RawOptions): Promise<RawClient> {
    const c = new RawClient(url, opts);
    const failure = await c.outcome();
    if (failure) throw new Error(`raw connect refused: ${failure.code} ${failure.message}`);
    return c;
  }

  /** Resolves with null once welcomed, or with the connect error. */
  async outcome(timeoutMs = 10_000): Promise<ConnectFailure | null> {
    await until(() => this.welcome !== null || this.connectError !== null, 'connect outcome', timeoutMs);
    return this.welcome ? null : this.connectError;
  }

  /** How the handshake ended, in one word: `welcome`, or the connect error's code. */
  async verdict(timeoutMs = 10_000): Promise<string> {
    const failure = await this.outcome(timeoutMs);
    return failure ? (failure.code ?? 'no code') : 'welcome';
  }

  get me(): string {
    if (!this.welcome) throw new Error('not welcomed');
    return this.welcome.participantId;
  }

  /** A local read-only copy of a document, built from what the server sent. */
  replica(doc: string): Y.Doc {
    let d = this.replicas.get(doc);
    if (!d) {
      d = new Y.Doc({ gc: false });
      this.replicas.set(doc, d);
    }
    return d;
  }

  /** Send a y-protocols message (bytes, as the protocol wants). */
  send(doc: unknown, message: Uint8Array): void {
    this.sendRaw(doc, sendable(message));
  }

  /** Emit a `y` event with exactly these arguments (hostile payloads: numbers, objects, binary…). */
  sendRaw(doc: unknown, payload: unknown): void {
    (this.socket as unknown as { emit(ev: string, ...args: unknown[]): void }).emit('y', doc, payload);
  }

  /** Fetch the server's full state of a document into the replica. */
  async pull(doc: string): Promise<Y.Doc> {
    this.send(doc, syncStep1(this.replica(doc)));
    await barrier(this.socket);
    return this.replica(doc);
  }

  async barrier(): Promise<void> {
    await barrier(this.socket);
  }

  /** Refusals received since `from` (an index into `refusals`). */
  refusalsSince(from: number): Refused[] {
    return this.refusals.slice(from);
  }

  /** A control request, and its acknowledgement. */
  ack(event: string, input: unknown, timeoutMs = 5000): Promise<unknown> {
    return (
      this.socket.timeout(timeoutMs) as unknown as { emitWithAck(e: string, i: unknown): Promise<unknown> }
    ).emitWithAck(event, input);
  }

  async waitFor(cond: () => boolean, what: string): Promise<void> {
    await until(cond, what);
  }

  close(): void {
    this.socket.disconnect();
  }
}

/** The update a change makes to a copy of `base` (the copy keeps `clientID` when given). */
export function craft(
  base: Y.Doc,
  change: (doc: Y.Doc) => void,
  clientID?: number,
): { update: Uint8Array; doc: Y.Doc } {
  const doc = new Y.Doc({ gc: false });
  if (clientID !== undefined) doc.clientID = clientID;
  Y.applyUpdate(doc, Y.encodeStateAsUpdate(base));
  const before = Y.encodeStateVector(doc);
  change(doc);
  return { update: Y.encodeStateAsUpdate(doc, before), doc };
}

/**
 * An awareness message with one entry whose state is this JSON text, byte for byte. Every
 * well-formed frame comes from shared/wire.ts (`awarenessMessage` writes JSON.stringify's spelling of
 * a state); a hostile client need not spell it that way, e.g. it may pad a small state with
 * whitespace.
 */
export function awarenessVerbatim(clientID: number, clock: number, json: string): Uint8Array {
  const inner = encoding.createEncoder();
  encoding.writeVarUint(inner, 1);
  encoding.writeVarUint(inner, clientID);
  encoding.writeVarUint(inner, clock);
  encoding.writeVarString(inner, json);
  const outer = encoding.createEncoder();
  encoding.writeVarUint(outer, Y_MESSAGE.awareness);
  encoding.writeVarUint8Array(outer, encoding.toUint8Array(inner));
  return encoding.toUint8Array(outer);
}
