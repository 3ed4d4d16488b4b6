/**
 * The control plane: requests that change the meeting's shared state. The server writes every
 * result into the meeting document, so everyone sees it, and answers the sender with an ack.
 * Nothing here can touch anyone's words: those live in voice documents only their owners write.
 */
import * as v from 'valibot';
import { randomId } from '../../shared/ids.js';
import {
  AddPersonSchema,
  ControlError,
  EndSchema,
  FacilitationSchema,
  LockSchema,
  ReflectSchema,
  RemoveSchema,
  ResponseCloseSchema,
  type AckResult,
  type ControlErrorCode,
} from '../../shared/protocol.js';
import { hashToken } from '../auth.js';
import type { Clock, Log } from '../context.js';
import type { Meeting } from '../meetings/meeting.js';
import type { Store } from '../store/types.js';

class Refuse extends Error {
  constructor(
    readonly code: ControlErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface ControlDeps {
  store: Store;
  clock: Clock;
  log: Log;
  /** Disconnect every connection of a participant now. */
  disconnect: (participantId: string) => void;
}

type Handler = (input: unknown) => Promise<object | void>;

/** The control handlers of one connection (participant `me` in `meeting`). */
export function controlHandlers(meeting: Meeting, me: string, deps: ControlDeps): Record<string, Handler> {
  const { store, clock } = deps;
  const parse = <S extends v.GenericSchema>(schema: S, input: unknown): v.InferOutput<S> => {
    const r = v.safeParse(schema, input);
    if (!r.success) throw new Refuse(ControlError.invalid, r.issues[0].message);
    return r.output;
  };
  const open = () => {
    if (meeting.record.status !== 'open') throw new Refuse(ControlError.meetingEnded, 'This meeting has ended.');
  };
  const facilitator = () => {
    if (!meeting.record.facilitators.includes(me)) {
      throw new Refuse(ControlError.notFacilitator, 'Only a facilitator can do this. Anyone can ask them.');
    }
  };
  const present = async (id: string) => {
    const p = await store.participant(id);
    if (!p || p.meetingId !== meeting.id || p.removed)
      throw new Refuse(ControlError.notFound, 'That person is not in this meeting.');
    return p;
  };

  return {
    async 'person:add'(input) {
      open();
      const { name, relation } = parse(AddPersonSchema, input);
      const token = randomId();
      const record = {
        id: randomId(),
        meetingId: meeting.id,
        tokenHash: hashToken(token),
        name,
        relation,
        aboutMe: false,
        joinedAt: clock.now(),
        revoked: false,
        addedBy: me,
      };
      await store.addParticipant(record);
      meeting.setPerson(record);
      meeting.act(me, { t: 'person-added', who: record.id });
      return { participantId: record.id, personalToken: token };
    },

    async reflect(input) {
      open();
      const { action } = parse(ReflectSchema, input);
      if (action === 'start') {
        if (meeting.phase === 'reflecting')
          throw new Refuse(ControlError.wrongState, 'A reflecting conversation is already under way.');
        meeting.act(me, { t: 'reflecting-started' }, { phase: 'reflecting' });
      } else {
        if (meeting.phase !== 'reflecting')
          throw new Refuse(ControlError.wrongState, 'No reflecting conversation is under way.');
        meeting.act(me, { t: 'reflecting-ended' }, { phase: 'response' });
      }
    },

    async 'response:close'(input) {
      open();
      const { responded } = parse(ResponseCloseSchema, input);
      if (meeting.phase !== 'response')
        throw new Refuse(ControlError.wrongState, 'There is no open response to a reflection.');
      meeting.act(me, { t: 'response-closed', responded }, { phase: 'open' });
    },

    async 'meeting:lock'(input) {
      open();
      facilitator();
      const { locked } = parse(LockSchema, input);
      if (meeting.record.locked === locked) return;
      await store.updateMeeting(meeting.id, { locked });
      meeting.act(me, { t: locked ? 'locked' : 'unlocked' }, { locked });
    },

    async 'meeting:end'(input) {
      open();
      facilitator();
      const { next } = parse(EndSchema, input);
      await store.updateMeeting(meeting.id, { status: 'ended' });
      const phase = meeting.phase;
      meeting.act(
        me,
        { t: 'ended', next },
        { status: 'ended', ...(phase !== 'open' ? { phase: 'open' as const } : {}) },
      );
    },

    async facilitation(input) {
      open();
      facilitator();
      const { to, mode } = parse(FacilitationSchema, input);
      await present(to);
      const facilitators = mode === 'hand' ? [to] : [...new Set([...meeting.record.facilitators, to])];
      await store.updateMeeting(meeting.id, { facilitators });
      meeting.act(me, { t: 'facilitation', to, mode }, { facilitators });
    },

    async 'participant:remove'(input) {
      open();
      facilitator();
      const { who } = parse(RemoveSchema, input);
      if (who === me) throw new Refuse(ControlError.invalid, 'You cannot remove yourself; leave the meeting instead.');
      await present(who);
      await store.updateParticipant(who, { revoked: true, removed: true });
      const facilitators = meeting.record.facilitators.filter((f) => f !== who);
      if (facilitators.length !== meeting.record.facilitators.length)
        await store.updateMeeting(meeting.id, { facilitators });
      meeting.markPerson(who, { removed: true });
      meeting.act(me, { t: 'removed', who }, { facilitators });
      deps.disconnect(who);
    },
  };
}

/** Run a handler and turn its outcome into an ack. Never throws. */
export async function runControl(handler: Handler, input: unknown, log: Log): Promise<AckResult> {
  try {
    const extra = await handler(input);
    return { ok: true, ...(extra ?? {}) };
  } catch (e) {
    if (e instanceof Refuse) return { ok: false, error: e.code, message: e.message };
    log.error({ err: (e as Error).message }, 'control request failed');
    return { ok: false, error: ControlError.internal, message: 'The server could not do this. Nothing was changed.' };
  }
}
