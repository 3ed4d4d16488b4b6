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
  HandshakeSchema,
  PROTOCOL_VERSION,
  Refusal,
  type ClientToServerEvents,
  type ConnectErrorCode,
  type ServerToClientEvents,
} from '../../shared/protocol.js';
import { fromBase64, toBase64 } from '../../shared/wire.js';
import { participantIn } from '../access.js';
import type { Config } from '../config.js';
import type { Clock, Log } from '../context.js';
import { controlHandlers, runControl } from './control.js';
import type { MeetingPort } from '../meetings/meeting.js';
import type { Meetings } from '../meetings/registry.js';
import { DamagedError, type Store } from '../store/types.js';

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
    closeAll() {
      io.in(room).disconnectSockets(true);
    },
  };
}

function connectError(code: ConnectErrorCode, message: string): Error {
  return Object.assign(new Error(message), { data: { code } });
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

/** A token bucket per connection, checked on every message (synchronous: it is on the hot path). */
class Bucket {
  #tokens: number;
  #last = Date.now();
  constructor(readonly perSecond: number) {
    this.#tokens = perSecond;
  }
  take(): boolean {
    const now = Date.now();
    this.#tokens = Math.min(this.perSecond, this.#tokens + ((now - this.#last) / 1000) * this.perSecond);
    this.#last = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

export function attachLive(
  io: LiveServer,
  deps: { store: Store; meetings: Meetings; config: Config; log: Log; clock: Clock },
): void {
  const { store, meetings, config, log } = deps;
  const disconnect = (participantId: string) => io.in(participantRoom(participantId)).disconnectSockets(true);

  io.use(async (socket, next) => {
    try {
      const hs = socket.handshake;
      if (!originAllowed(hs.headers.origin, hs.headers.host, config.publicUrl)) {
        return next(connectError(ConnectError.origin, 'This page is not served by this Polyphony server.'));
      }
      const parsed = v.safeParse(HandshakeSchema, hs.auth);
      if (!parsed.success) {
        const proto = (hs.auth as { protocol?: unknown } | undefined)?.protocol;
        if (proto !== undefined && proto !== PROTOCOL_VERSION) {
          return next(connectError(ConnectError.protocol, `This server speaks protocol ${PROTOCOL_VERSION}.`));
        }
        return next(connectError(ConnectError.invalid, 'The connection request is not valid.'));
      }
      const auth = parsed.output;
      if (auth.protocol !== PROTOCOL_VERSION) {
        return next(connectError(ConnectError.protocol, `This server speaks protocol ${PROTOCOL_VERSION}.`));
      }
      const participant = await participantIn(
        store,
        auth.meetingId,
        { token: auth.token, cookie: hs.headers.cookie },
        auth.participantId,
      );
      const meeting = participant ? await meetings.get(auth.meetingId) : undefined;
      if (!participant || !meeting) {
        return next(
          connectError(ConnectError.noAccess, 'No meeting was found for this link, or the link no longer works.'),
        );
      }
      socket.data = { meetingId: auth.meetingId, participantId: participant.id };
      next();
    } catch (e) {
      if (e instanceof DamagedError) {
        return next(
          connectError(ConnectError.unavailable, 'This meeting cannot be opened right now. Its record is kept safe.'),
        );
      }
      log.error({ err: (e as Error).message }, 'handshake failed');
      next(connectError(ConnectError.unavailable, 'The server could not open this meeting. Try again shortly.'));
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
    if (meeting.record.status === 'ended' && meeting.firstOpening(participantId)) {
      // Reading a record afterwards is logged for the network to see (once per half hour, not
      // on every reconnection).
      void store
        .logAccess({ meetingId, participantId, action: 'opened-record', at: deps.clock.now() })
        .catch((e: unknown) => log.error({ err: (e as Error).message }, 'access log failed'));
    }

    const bucket = new Bucket(LIMITS.messagesPerSecond);
    const maxChars = Math.ceil((LIMITS.messageBytes * 4) / 3) + 4;
    socket.on('y', (doc: unknown, message: unknown) => {
      const docId = typeof doc === 'string' ? doc : '';
      const refuse = (code: (typeof Refusal)[keyof typeof Refusal], text: string) =>
        socket.emit('refused', { doc: docId.slice(0, 40), code, message: text });
      if (!bucket.take()) return refuse(Refusal.rateLimited, 'Too many messages at once. Slow down a little.');
      if (typeof doc !== 'string' || typeof message !== 'string' || (doc !== 'meeting' && !isId(doc))) {
        return refuse(Refusal.invalid, 'A message needs a document id and a base64 text.');
      }
      if (message.length > maxChars) return refuse(Refusal.tooLarge, 'The message is too large.');
      try {
        const result = meeting.receive(socket.id, participantId, doc, fromBase64(message));
        if (!result.ok) return refuse(result.problem.code, result.problem.message);
        if (result.reply) socket.emit('y', doc, toBase64(result.reply));
      } catch (e) {
        log.error({ meeting: meetingId, err: (e as Error).message }, 'message handling failed');
        refuse(Refusal.malformed, 'The message could not be handled.');
      }
    });

    // Control requests are rare: one listener for all of them, handlers made per request
    // (a listener per event per connection would cost memory on every idle connection).
    socket.onAny((event: unknown, input: unknown, ack: unknown) => {
      if (event === 'y' || typeof event !== 'string' || typeof ack !== 'function') return;
      const reply = ack as (r: unknown) => void;
      const handlers = controlHandlers(meeting, participantId, { store, clock: deps.clock, log, disconnect });
      const handler = Object.hasOwn(handlers, event) ? handlers[event] : undefined;
      if (!handler) return reply({ ok: false, error: 'invalid', message: 'There is no such request.' });
      if (!bucket.take())
        return reply({ ok: false, error: 'invalid', message: 'Too many requests at once. Slow down a little.' });
      void runControl(handler, input, log).then(reply);
    });

    socket.on('disconnect', () => {
      meeting.disconnect(socket.id);
      meetings.release(meetingId);
    });
  });
}
