/**
 * The live layer: one Socket.IO connection per participant per meeting carries every document's
 * sync and awareness messages (`y`) and the control events (presence, saved, refused, storage).
 * Identity comes from the server's session, never from what a client says about itself.
 */
import type { Server, Socket } from 'socket.io';
import * as v from 'valibot';
import { LIMITS } from '../../shared/limits.js';
import {
  CloseReason,
  ConnectError,
  ControlError,
  Refusal,
  type CloseReasonCode,
  type ConnectErrorCode,
  type RefusalCode,
} from '../../shared/errors.js';
import {
  HandshakeSchema,
  PROTOCOL_VERSION,
  type AckResult,
  type ClientToServerEvents,
  type ServerToClientEvents,
} from '../../shared/protocol.js';
import { bytesOf, isDocTag, sendable, yArgs, type DocTag } from '../../shared/wire.js';
import { participantIn } from '../access.js';
import type { Config } from '../config.js';
import type { Clock, Log } from '../context.js';
import type { Metrics } from '../metrics.js';
import type { CommandsApi } from '../commands/commands.js';
import { controlHandlers, isControlEvent, runControl } from './control.js';
import type { Meeting, MeetingPort } from '../meetings/meeting.js';
import type { Meetings } from '../meetings/registry.js';
import { NotOwner, type Placement } from '../cluster/placement.js';
import { BusTimeout, type Bus } from '../cluster/bus.js';
import { DamagedError, type ParticipantRecord, type Store } from '../store/types.js';

export interface SocketData {
  meetingId: string;
  participantId: string;
  /** The documents the device said it holds (`have`), if it said so. */
  have?: string[];
  /** Several instances: the instance that serves the meeting, when it is not this one (a relay). */
  owner?: string;
  /** What the owner answered when this connection was attached to it. */
  attached?: Attached;
}

/** The owner's answer to a relay attaching a connection: what a local connection gets at once. */
export interface Attached {
  greeting: Array<[DocTag, Uint8Array]>;
  /** Every document's id, at the index of its number (`Welcome.docs`). */
  docs: string[];
  /** With `have`: the state of the documents the device does not hold. */
  pushed?: Array<[DocTag, Uint8Array]>;
  saved: Uint8Array | null;
  storageFailing: boolean;
}

/** Messages between a relay and a meeting's owner about the relay's connections (over the bus). */
export type RelayRequest = {
  t: 'attach';
  meetingId: string;
  participantId: string;
  tokenHash: string;
  socketId: string;
  have?: string[];
};
export type RelayMessage =
  | { t: 'y'; socketId: string; seq: number; doc: DocTag; msg: Uint8Array }
  /** The relayed connection has joined the meeting's rooms: who is here is said again, to all. */
  | { t: 'joined'; socketId: string }
  | { t: 'detach'; socketId: string };
type AttachAnswer = Attached | { refused: ConnectErrorCode } | { notOwner: true };

export type LiveServer = Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
type LiveSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;

export const meetingRoom = (meetingId: string): string => `m:${meetingId}`;
export const participantRoom = (participantId: string): string => `p:${participantId}`;

export function meetingPort(io: LiveServer, meetingId: string): MeetingPort {
  const room = meetingRoom(meetingId);
  return {
    broadcast(doc, message, exceptSocket) {
      const target = exceptSocket ? io.to(room).except(exceptSocket) : io.to(room);
      // Encoded once for every recipient (Socket.IO encodes a broadcast once).
      target.emit('y', doc, sendable(message));
    },
    broadcastAll(messages, writer) {
      if (!writer) {
        io.to(room).emit('y', ...yArgs(messages));
        return;
      }
      io.to(room)
        .except(writer.socketId)
        .emit('y', ...yArgs(messages));
      // The writer has its own update already: it gets only what that update caused (the marks).
      const caused = messages.filter(([doc]) => doc !== writer.doc);
      if (caused.length > 0) io.to(writer.socketId).emit('y', ...yArgs(caused));
    },
    voice(n, id) {
      io.to(room).emit('voice', n, id);
    },
    presence(here) {
      io.to(room).emit('presence', here);
    },
    saved(participantId, doc, sv) {
      io.to(participantRoom(participantId)).emit('saved', doc, sendable(sv));
    },
    storage(status) {
      io.to(room).emit('storage', status);
    },
    erased(doc) {
      io.to(room).emit('erased', doc);
    },
    closeAll(reason) {
      io.to(room).emit('closing', reason);
      io.in(room).disconnectSockets(true);
    },
  };
}

/** A refused handshake: `connect_error` whose `data.code` says why (the page owns the sentence). */
function connectError(code: ConnectErrorCode): Error {
  return Object.assign(new Error(code), { data: { code } });
}

/** Tell every connection of a participant why, then disconnect them (the buffered packet goes first). */
export function disconnectParticipant(io: LiveServer, participantId: string, reason: CloseReasonCode): void {
  io.to(participantRoom(participantId)).emit('closing', reason);
  io.in(participantRoom(participantId)).disconnectSockets(true);
}

/** Same origin as the page that served it, or the configured public URL. Scripts send no Origin. */
export function originAllowed(origin: string | undefined, host: string | undefined, publicUrl: string): boolean {
  if (!origin) return true;
  if (origin === publicUrl) return true;
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}

/**
 * A token bucket per connection, checked on every message (synchronous: it is on the hot path).
 * The burst is five seconds' worth, so that the first sync of a large meeting (a step 1 for every
 * voice at once) passes; the clock is injected.
 */
class Bucket {
  #tokens: number;
  #last: number;
  readonly burst: number;
  constructor(
    readonly perSecond: number,
    readonly clock: Clock,
  ) {
    this.burst = perSecond * 5;
    this.#tokens = this.burst;
    this.#last = clock.now();
  }
  take(): boolean {
    if (!Number.isFinite(this.perSecond)) return true;
    const now = this.clock.now();
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#last) / 1000) * this.perSecond);
    this.#last = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

export function attachLive(
  io: LiveServer,
  deps: {
    store: Store;
    meetings: Meetings;
    commands: CommandsApi;
    config: Config;
    log: Log;
    clock: Clock;
    metrics?: Metrics;
    /** Several instances: where meetings are served, and the bus to the others. */
    placement?: Placement;
    bus?: Bus | null;
  },
): Relays {
  const { store, meetings, commands, config, log, metrics } = deps;
  const bus = deps.bus ?? null;
  const placement = deps.placement;
  const perSecond = config.messagesPerSecond;
  const handlers = controlHandlers(commands);

  io.use(async (socket, next) => {
    try {
      const hs = socket.handshake;
      if (!originAllowed(hs.headers.origin, hs.headers.host, config.publicUrl)) {
        return next(connectError(ConnectError.badOrigin));
      }
      const parsed = v.safeParse(HandshakeSchema, hs.auth);
      if (!parsed.success) {
        const proto = (hs.auth as { protocol?: unknown } | undefined)?.protocol;
        if (proto !== undefined && proto !== PROTOCOL_VERSION) return next(connectError(ConnectError.protocolVersion));
        return next(connectError(ConnectError.invalid));
      }
      const auth = parsed.output;
      if (auth.protocol !== PROTOCOL_VERSION) return next(connectError(ConnectError.protocolVersion));
      const participant = await participantIn(
        store,
        auth.meetingId,
        { token: auth.token, cookie: hs.headers.cookie },
        auth.participantId,
      );
      if (!participant) return next(connectError(ConnectError.noAccess));
      const row = await store.meeting(auth.meetingId);
      if (!row || row.erased) return next(connectError(row?.erased ? ConnectError.erased : ConnectError.noAccess));
      let where = placement ? await placement.locate(auth.meetingId) : 'here';
      let meeting: Meeting | undefined;
      if (where === 'here') {
        try {
          meeting = await meetings.get(auth.meetingId);
        } catch (e) {
          if (!(e instanceof NotOwner) || !bus || e.owner === 'shutting down') throw e;
          where = e.owner;
        }
      }
      if (where !== 'here') {
        // Another instance serves this meeting: attach the connection to it and relay (below).
        if (!bus) return next(connectError(ConnectError.unavailable));
        const answer = (await bus.request(
          where,
          {
            t: 'attach',
            meetingId: auth.meetingId,
            participantId: participant.id,
            tokenHash: participant.tokenHash,
            socketId: socket.id,
            ...(auth.have ? { have: auth.have } : {}),
          } satisfies RelayRequest,
          5000,
        )) as AttachAnswer;
        if ('refused' in answer) return next(connectError(answer.refused));
        if ('notOwner' in answer) return next(connectError(ConnectError.unavailable));
        socket.data = { meetingId: auth.meetingId, participantId: participant.id, owner: where, attached: answer };
        return next();
      }
      // Loading may have caught the rows up with the meeting document (a removal a crash left
      // half-written): ask again.
      const fresh = meeting ? await store.participant(participant.id) : undefined;
      if (!meeting || !fresh || fresh.revoked || fresh.tokenHash !== participant.tokenHash) {
        return next(connectError(ConnectError.noAccess));
      }
      socket.data = {
        meetingId: auth.meetingId,
        participantId: participant.id,
        ...(auth.have ? { have: auth.have } : {}),
      };
      next();
    } catch (e) {
      if (!(e instanceof DamagedError || e instanceof NotOwner || e instanceof BusTimeout))
        log.error({ err: (e as Error).message }, 'handshake failed');
      next(connectError(ConnectError.unavailable));
    }
  });

  /** Greet a connection served here, and note its opening of an ended record. */
  const greetHere = (meeting: Meeting, socketId: string, participantId: string, have?: string[]): Attached => {
    meeting.connect(socketId, participantId);
    if (meeting.status === 'ended' && meeting.firstOpening(participantId)) {
      // Reading a record afterwards is logged for the network to see (once per half hour, not
      // on every reconnection).
      void store
        .participant(participantId)
        .then((p) => (p ? commands.logAccess(p, 'opened-record') : undefined))
        .catch((e: unknown) => log.error({ err: (e as Error).message }, 'access log failed'));
    }
    const sv = meeting.durableStateVector(participantId);
    const held = have ? new Set(have) : undefined;
    return {
      greeting: meeting.greeting(participantId, held),
      docs: meeting.docList(),
      ...(held ? { pushed: meeting.pushFor(held) } : {}),
      saved: sv ?? null,
      storageFailing: meeting.storageFailing,
    };
  };

  /** Tell a connection (on any instance) to reconnect: its meeting moved, or it missed messages. */
  const restart = (socketId: string) => {
    io.to(socketId).emit('closing', CloseReason.restarting);
    io.in(socketId).disconnectSockets(true);
  };

  // ── on a meeting's owner: connections that other instances relay ─────────────────────
  const remotes = new Map<
    string,
    {
      meetingId: string;
      participantId: string;
      from: string;
      seq: number;
      /**
       * Where the state handed to the relay stood, until its connection has joined the meeting's
       * rooms: what is broadcast meanwhile does not reach it, and is sent to it then.
       */
      handed?: Map<string, Uint8Array>;
    }
  >();
  const detach = (socketId: string) => {
    const r = remotes.get(socketId);
    if (!r) return;
    remotes.delete(socketId);
    meetings.peek(r.meetingId)?.disconnect(socketId);
    meetings.release(r.meetingId);
  };

  // ── on a relay: its connections to meetings other instances serve ────────────────────
  const relayed = new Map<string, { owner: string; sockets: Set<LiveSocket> }>();
  const restartRelayed = (meetingId: string) => {
    const entry = relayed.get(meetingId);
    if (!entry) return;
    relayed.delete(meetingId);
    for (const s of entry.sockets) {
      s.emit('closing', CloseReason.restarting);
      s.disconnect(true);
    }
  };
  const relays: Relays = {
    async attach(req, from) {
      let meeting: Meeting | undefined;
      try {
        meeting = await meetings.get(req.meetingId);
      } catch (e) {
        if (e instanceof NotOwner) return { notOwner: true } satisfies AttachAnswer;
        throw e;
      }
      const fresh = meeting ? await store.participant(req.participantId) : undefined;
      if (
        !meeting ||
        !fresh ||
        fresh.meetingId !== req.meetingId ||
        fresh.revoked ||
        fresh.tokenHash !== req.tokenHash
      ) {
        return { refused: ConnectError.noAccess } satisfies AttachAnswer;
      }
      const handed = meeting.stateVectors();
      remotes.set(req.socketId, { meetingId: req.meetingId, participantId: req.participantId, from, seq: 0, handed });
      return greetHere(meeting, req.socketId, req.participantId, req.have) satisfies AttachAnswer;
    },
    message(msg) {
      if (msg.t === 'detach') return detach(msg.socketId);
      if (msg.t === 'joined') {
        // Said, shared and saved while the relay's socket had not yet joined the rooms: the changes
        // since what it was handed go to it now (anything also broadcast since arrives twice, which
        // Yjs ignores), then what of its own is saved, and who is here.
        const r = remotes.get(msg.socketId);
        const meeting = r && meetings.peek(r.meetingId);
        if (!r || !meeting) return;
        const missed = r.handed ? meeting.changesSince(r.handed) : [];
        // Voices numbered since then are named first, so that their messages can be read.
        if (r.handed) {
          const handed = r.handed;
          meeting.docList().forEach((id, n) => {
            if (n > 0 && id && !handed.has(id)) io.to(msg.socketId).emit('voice', n, id);
          });
        }
        delete r.handed;
        if (missed.length > 0) io.to(msg.socketId).emit('y', ...yArgs(missed));
        const saved = meeting.durableStateVector(r.participantId);
        if (saved) io.to(msg.socketId).emit('saved', r.participantId, sendable(saved));
        meeting.port.presence(meeting.here());
        return;
      }
      const r = remotes.get(msg.socketId);
      const meeting = r && meetings.peek(r.meetingId);
      if (!r || !meeting || msg.seq !== r.seq + 1) {
        // A message was lost on the way (Redis went away), or the meeting moved: resync.
        detach(msg.socketId);
        return restart(msg.socketId);
      }
      r.seq = msg.seq;
      const refuse = (code: RefusalCode) => {
        metrics?.refusals.inc({ code });
        io.to(msg.socketId).emit('refused', { doc: meeting.docAt(msg.doc) ?? String(msg.doc).slice(0, 40), code });
      };
      try {
        const bytes = bytesOf(msg.msg);
        if (!bytes) return refuse(Refusal.invalid);
        const result = meeting.receive(msg.socketId, r.participantId, msg.doc, bytes);
        if (!result.ok) return refuse(result.problem.code);
        if (result.reply) io.to(msg.socketId).emit('y', result.reply[0], sendable(result.reply[1]));
      } catch (e) {
        log.error({ meeting: r.meetingId, err: (e as Error).message }, 'message handling failed');
        refuse(Refusal.malformed);
      }
    },
    async check() {
      // Relayed connections whose meeting moved (its owner died, stalled or shut down) reconnect:
      // one question to the database for all of them (none when it cannot answer).
      const owners = placement ? await placement.locateAll([...relayed.keys()]).catch(() => null) : null;
      for (const [meetingId, entry] of [...relayed]) {
        const where = owners?.get(meetingId) ?? entry.owner;
        if (where !== entry.owner || (bus && !bus.alive(entry.owner))) restartRelayed(meetingId);
      }
      // Connections relayed by an instance that is gone are gone too.
      if (bus) for (const [socketId, r] of remotes) if (!bus.alive(r.from)) detach(socketId);
    },
    resync() {
      for (const meetingId of [...relayed.keys()]) restartRelayed(meetingId);
    },
  };

  io.on('connection', (socket: LiveSocket) => {
    const { meetingId, participantId, owner, attached, have } = socket.data;
    const meeting = owner ? undefined : meetings.peek(meetingId);
    if (!owner && !meeting) {
      socket.disconnect(true);
      return;
    }
    void socket.join([meetingRoom(meetingId), participantRoom(participantId)]);
    const hello = meeting ? greetHere(meeting, socket.id, participantId, have) : attached!;
    // Nothing of the handshake is kept for the connection's life: not what the owner handed a relay
    // (the whole state of what the device did not hold), nor the `have` list, nor the personal token.
    delete socket.data.attached;
    delete socket.data.have;
    socket.handshake.auth = {};
    // Two frames: who you are (and what of yours is saved), then every sync message at once — the
    // greeting's step 1s and awareness states, and the state of everything the device does not
    // hold yet, so that it is synced without a round trip. (Each frame is a write to the socket.)
    socket.emit('welcome', {
      protocol: PROTOCOL_VERSION,
      meetingId,
      participantId,
      docs: hello.docs,
      ...(hello.saved ? { saved: sendable(hello.saved) } : {}),
    });
    socket.emit('y', ...yArgs([...hello.greeting, ...(hello.pushed ?? [])]));
    if (hello.storageFailing) socket.emit('storage', 'failing');
    let seq = 0;
    if (owner) {
      bus?.send(owner, { t: 'joined', socketId: socket.id } satisfies RelayMessage);
      const entry = relayed.get(meetingId);
      if (entry && entry.owner === owner) entry.sockets.add(socket);
      else {
        if (entry) restartRelayed(meetingId);
        relayed.set(meetingId, { owner, sockets: new Set([socket]) });
      }
    }

    metrics?.connections.inc();
    const bucket = new Bucket(perSecond, deps.clock);
    socket.on('y', (doc: unknown, message: unknown, ...more: unknown[]) => {
      const refuse = (code: RefusalCode) => {
        metrics?.refusals.inc({ code });
        // The document by its id where this instance knows it; else what was sent, as text.
        const named = isDocTag(doc) ? (meeting?.docAt(doc) ?? String(doc)) : typeof doc === 'string' ? doc : '';
        socket.emit('refused', { doc: named.slice(0, 40), code });
      };
      if (!bucket.take()) return refuse(Refusal.rateLimited);
      const bytes = bytesOf(message);
      // A client sends one message per `y` (only the server's carry several).
      if (!isDocTag(doc) || !bytes || more.length > 0) return refuse(Refusal.invalid);
      if (bytes.length > LIMITS.messageBytes) return refuse(Refusal.tooLarge);
      if (owner) {
        bus?.send(owner, { t: 'y', socketId: socket.id, seq: ++seq, doc, msg: bytes } satisfies RelayMessage);
        return;
      }
      if (!meetings.serving(meeting!)) return restart(socket.id);
      try {
        const result = meeting!.receive(socket.id, participantId, doc, bytes);
        if (!result.ok) return refuse(result.problem.code);
        if (result.reply) socket.emit('y', result.reply[0], sendable(result.reply[1]));
      } catch (e) {
        log.error({ meeting: meetingId, err: (e as Error).message }, 'message handling failed');
        refuse(Refusal.malformed);
      }
    });

    // Control requests are rare: one listener for all of them (a listener per event per
    // connection would cost memory on every idle connection). The commands run on the
    // meeting's owner, wherever this connection is.
    socket.onAny((event: unknown, input: unknown, ack: unknown) => {
      if (event === 'y' || typeof ack !== 'function') return;
      const reply = ack as (r: AckResult) => void;
      if (!isControlEvent(handlers, event)) return reply({ ok: false, error: ControlError.invalid });
      if (!bucket.take()) return reply({ ok: false, error: ControlError.rateLimited });
      void store
        .participant(participantId)
        .then((actor) =>
          actor && !actor.revoked
            ? runControl(
                handlers[event] as (a: ParticipantRecord, i: unknown) => Promise<object | void>,
                actor,
                input,
                log,
              )
            : ({ ok: false, error: ControlError.notFound } satisfies AckResult),
        )
        .catch((): AckResult => ({ ok: false, error: ControlError.internal }))
        .then(reply);
    });

    socket.on('disconnect', () => {
      metrics?.connections.dec();
      if (owner) {
        bus?.send(owner, { t: 'detach', socketId: socket.id } satisfies RelayMessage);
        const entry = relayed.get(meetingId);
        entry?.sockets.delete(socket);
        if (entry && entry.sockets.size === 0) relayed.delete(meetingId);
        return;
      }
      meeting!.disconnect(socket.id);
      meetings.release(meetingId);
    });
  });
  return relays;
}

/** The live layer's part in several instances: serving relayed connections, and relaying. */
export interface Relays {
  /** On the owner: a relay attaches one of its connections. */
  attach(req: RelayRequest, from: string): Promise<AttachAnswer>;
  /** On the owner: a relayed connection's message, or its end. */
  message(msg: RelayMessage): void;
  /** Periodically: relayed connections whose meeting moved reconnect; connections of gone relays end. */
  check(): Promise<void>;
  /** Redis came back: every relayed connection resyncs (it may have missed messages). */
  resync(): void;
}
