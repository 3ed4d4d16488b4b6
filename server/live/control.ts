/**
 * The control plane: Socket.IO requests with acks. Each handler parses its payload with the schema
 * in shared/ and calls the commands layer, which checks every rule and answers only once what it
 * did is durable. The table is typed from the shared event map, so an event cannot be forgotten.
 */
import * as v from 'valibot';
import { ControlError, type ControlErrorCode } from '../../shared/errors.js';
import {
  AddPersonSchema,
  EndSchema,
  FacilitationSchema,
  LockSchema,
  ReflectSchema,
  RemoveSchema,
  ResponseCloseSchema,
  type AckResult,
  type ClientToServerEvents,
} from '../../shared/protocol.js';
import { CommandError, type CommandsApi } from '../commands/commands.js';
import type { Log } from '../context.js';
import type { ParticipantRecord } from '../store/types.js';

/** Every control event: the client→server events that carry an ack. */
export type ControlEvent = Exclude<keyof ClientToServerEvents, 'y'>;
type AckExtra<E extends ControlEvent> =
  Parameters<ClientToServerEvents[E]> extends [unknown, (r: AckResult<infer T>) => void] ? T : never;

type Handler<E extends ControlEvent> = (actor: ParticipantRecord, input: unknown) => Promise<AckExtra<E> | void>;

function parse<S extends v.GenericSchema>(schema: S, input: unknown): v.InferOutput<S> {
  const r = v.safeParse(schema, input);
  if (!r.success) throw new CommandError(ControlError.invalid);
  return r.output;
}

export function controlHandlers(commands: CommandsApi): { readonly [E in ControlEvent]: Handler<E> } {
  return {
    'person:add': (actor, input) => commands.addPerson(actor, parse(AddPersonSchema, input)),
    reflect: (actor, input) => commands.reflect(actor, parse(ReflectSchema, input)),
    'response:close': (actor, input) => commands.closeResponse(actor, parse(ResponseCloseSchema, input)),
    'meeting:lock': (actor, input) => commands.lock(actor, parse(LockSchema, input)),
    'meeting:end': (actor, input) => commands.end(actor, parse(EndSchema, input)),
    facilitation: (actor, input) => commands.facilitation(actor, parse(FacilitationSchema, input)),
    'participant:remove': (actor, input) => commands.remove(actor, parse(RemoveSchema, input)),
  };
}

export function isControlEvent(
  handlers: { readonly [E in ControlEvent]: Handler<E> },
  event: unknown,
): event is ControlEvent {
  return typeof event === 'string' && Object.hasOwn(handlers, event);
}

const CONTROL_CODES = new Set<string>(Object.values(ControlError));

/** Run a handler and turn its outcome into an ack. Never throws. */
export async function runControl(
  handler: (actor: ParticipantRecord, input: unknown) => Promise<object | void>,
  actor: ParticipantRecord,
  input: unknown,
  log: Log,
): Promise<AckResult> {
  try {
    const extra = await handler(actor, input);
    return { ok: true, ...(extra ?? {}) };
  } catch (e) {
    if (e instanceof CommandError) {
      // The commands layer speaks the whole vocabulary; a control ack says it in the control subset.
      const code = (
        CONTROL_CODES.has(e.code) ? e.code : e.code === 'no-access' ? 'not-found' : 'invalid'
      ) as ControlErrorCode;
      return { ok: false, error: code };
    }
    log.error({ err: (e as Error).message }, 'control request failed');
    return { ok: false, error: ControlError.internal };
  }
}
