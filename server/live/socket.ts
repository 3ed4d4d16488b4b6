/**
 * The live layer: one Socket.IO connection per participant per meeting carries every document's
 * sync and awareness messages (`y`) and the control events (presence, saved, refused, storage).
 * Identity comes from the server's session, never from what a client says about itself.
 */
import type { Server, Socket } from 'socket.io';
import * as v from 'valibot';
import { isId } from '../../shared/ids.js';
import { LIMITS } from '../../shared/limits.js';
import {
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
import { fromBase64, toBase64 } from '../../shared/wire.js';
import { participantIn } from '../access.js';
import type { Config } from '../config.js';
import type { Clock, Log } from '../context.js';
import type { Metrics } from '../metrics.js';
import type { Commands } from '../commands/commands.js';
import { controlHandlers, isControlEvent, runControl } from './control.js';
import type { MeetingPort } from '../meetings/meeting.js';
import type { Meetings } from '../meetings/registry.js';
import { DamagedError, type ParticipantRecord, type Store } from '../store/types.js';

export interface SocketData {
  meetingId: string;
  participantId: string;
}

export type LiveServer = Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
type LiveSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;

export const meetingRoom = (meetingId: string): string => `m:${meetingId}`;
export const participantRoom = (participantId: string): string => `p:${participantId}`;

export function meetingPort(io: LiveServer, meetingId: string): MeetingPort {
  const room = meetingRoom(meetingId);
  return {
    broadcast(doc, message, exceptSocket) {
      const target = exceptSocket ? io.to(room).except(exceptSocket) : io.to(room);
      target.emit('y', doc, toBase64(message));
    },
    broadcastAll(messages) {
      io.to(room).emit(
        'batch',
        messages.map(([doc, m]) => [doc, toBase64(m)]),
      );
    },
    presence(here) {
      io.to(room).emit('presence', here);
    },
    saved(participantId, doc, sv) {
      io.to(participantRoom(participantId)).emit('saved', doc, toBase64(sv));
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
    commands: Commands;
    config: Config;
    log: Log;
    clock: Clock;
    metrics?: Metrics;
  },
): void {
  const { store, meetings, commands, config, log, metrics } = deps;
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
      const meeting = await meetings.get(auth.meetingId);
      // Loading may have caught the rows up with the meeting document (a removal a crash left
      // half-written): ask again.
      const fresh = meeting ? await store.participant(participant.id) : undefined;
      if (!meeting || !fresh || fresh.revoked || fresh.tokenHash !== participant.tokenHash) {
        return next(connectError(ConnectError.noAccess));
      }
      socket.data = { meetingId: auth.meetingId, participantId: participant.id };
      next();
    } catch (e) {
      if (!(e instanceof DamagedError)) log.error({ err: (e as Error).message }, 'handshake failed');
      next(connectError(ConnectError.unavailable));
    }
  });

  io.on('connection', (socket: LiveSocket) => {
    const { meetingId, participantId } = socket.data;
    const meeting = meetings.peek(meetingId);
    if (!meeting) {
      socket.disconnect(true);
      return;
    }
    void socket.join([meetingRoom(meetingId), participantRoom(participantId)]);
    meeting.connect(socket.id, participantId);
    socket.emit('welcome', { protocol: PROTOCOL_VERSION, meetingId, participantId });
    for (const [doc, msg] of meeting.greeting(participantId)) socket.emit('y', doc, toBase64(msg));
    const sv = meeting.durableStateVector(participantId);
    if (sv) socket.emit('saved', participantId, toBase64(sv));
    if (meeting.storageFailing) socket.emit('storage', 'failing');
    if (meeting.status === 'ended' && meeting.firstOpening(participantId)) {
      // Reading a record afterwards is logged for the network to see (once per half hour, not
      // on every reconnection).
      void store
        .participant(participantId)
        .then((p) => (p ? commands.logAccess(p, 'opened-record') : undefined))
        .catch((e: unknown) => log.error({ err: (e as Error).message }, 'access log failed'));
    }

    metrics?.connections.inc();
    const bucket = new Bucket(perSecond, deps.clock);
    const maxChars = Math.ceil((LIMITS.messageBytes * 4) / 3) + 4;
    socket.on('y', (doc: unknown, message: unknown) => {
      const docId = typeof doc === 'string' ? doc : '';
      const refuse = (code: RefusalCode) => {
        metrics?.refusals.inc({ code });
        socket.emit('refused', { doc: docId.slice(0, 40), code });
      };
      if (!bucket.take()) return refuse(Refusal.rateLimited);
      if (typeof doc !== 'string' || typeof message !== 'string' || (doc !== 'meeting' && !isId(doc))) {
        return refuse(Refusal.invalid);
      }
      if (message.length > maxChars) return refuse(Refusal.tooLarge);
      try {
        const result = meeting.receive(socket.id, participantId, doc, fromBase64(message));
        if (!result.ok) return refuse(result.problem.code);
        if (result.reply) socket.emit('y', doc, toBase64(result.reply));
      } catch (e) {
        log.error({ meeting: meetingId, err: (e as Error).message }, 'message handling failed');
        refuse(Refusal.malformed);
      }
    });

    // Control requests are rare: one listener for all of them (a listener per event per
    // connection would cost memory on every idle connection).
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
      meeting.disconnect(socket.id);
      meetings.release(meetingId);
    });
  });
}
