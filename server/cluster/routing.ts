/**
 * Commands run where their meeting is served. With several instances, a command about a meeting
 * another instance owns is sent to that instance, which runs it against the meeting it holds
 * (the same code, the same rules) and answers once what it did is durable; the answer, or the
 * rule's error code, comes back as if it had run here. Commands that touch no loaded meeting
 * (opening one, exchanging or revoking a link) run wherever they arrive.
 */
import { ErrorCode, type ErrorCode as Code } from '../../shared/errors.js';
import { CommandError, type Commands, type CommandsApi } from '../commands/commands.js';
import type { ParticipantRecord } from '../store/types.js';
import { FencedError } from '../store/types.js';
import { BusTimeout, type Bus } from './bus.js';
import { NotOwner, type Placement } from './placement.js';

type Name = keyof CommandsApi;
const byActor = (actor: ParticipantRecord) => actor.meetingId;

/** The meeting each routed command is about, from its arguments. */
const ROUTED: { readonly [K in Name]?: (...args: Parameters<CommandsApi[K]>) => string } = {
  join: (meetingId) => meetingId,
  invitation: (meetingId) => meetingId,
  updateProfile: byActor,
  updateNetwork: byActor,
  openNext: byActor,
  record: byActor,
  addPerson: byActor,
  reflect: byActor,
  closeResponse: byActor,
  lock: byActor,
  end: byActor,
  facilitation: byActor,
  remove: byActor,
  erase: byActor,
};

export interface CommandRequest {
  t: 'command';
  name: Name;
  args: unknown[];
}

type CommandAnswer = { value: unknown } | { error: Code; field?: string } | { notOwner: true };

/** The commands as the transports see them: local ones bound, routed ones sent to the owner. */
export function routeCommands(local: Commands, placement: Placement, bus: Bus | null): CommandsApi {
  const names = Object.getOwnPropertyNames(Object.getPrototypeOf(local) as object).filter(
    (n) => n !== 'constructor' && typeof (local as unknown as Record<string, unknown>)[n] === 'function',
  ) as Name[];
  const api: Record<string, (...args: unknown[]) => Promise<unknown>> = {};
  for (const name of names) {
    const run = (...args: unknown[]) =>
      (local[name] as (...a: unknown[]) => Promise<unknown>).apply(local, args) as Promise<unknown>;
    const meetingOf = ROUTED[name] as ((...a: unknown[]) => string) | undefined;
    api[name] =
      !bus || !placement.shared || !meetingOf
        ? run
        : async (...args: unknown[]) => {
            const meetingId = meetingOf(...args);
            for (let attempt = 0; attempt < 3; attempt++) {
              const where = await placement.locate(meetingId);
              if (where === 'here') {
                try {
                  return await run(...args);
                } catch (e) {
                  if (e instanceof NotOwner) continue;
                  if (e instanceof FencedError) throw new CommandError(ErrorCode.unavailable);
                  throw e;
                }
              }
              let answer: CommandAnswer;
              try {
                answer = (await bus.request(where, {
                  t: 'command',
                  name,
                  args,
                } satisfies CommandRequest)) as CommandAnswer;
              } catch (e) {
                if (e instanceof BusTimeout) throw new CommandError(ErrorCode.unavailable);
                throw e;
              }
              if ('notOwner' in answer) continue;
              if ('error' in answer) throw new CommandError(answer.error, answer.field);
              return answer.value;
            }
            throw new CommandError(ErrorCode.unavailable);
          };
  }
  return api as unknown as CommandsApi;
}

/** On the owner: run a command another instance sent, and say how it went. */
export async function serveCommand(local: Commands, req: CommandRequest): Promise<CommandAnswer> {
  if (!ROUTED[req.name] || !Array.isArray(req.args)) return { error: ErrorCode.invalid };
  try {
    const fn = local[req.name] as (...a: unknown[]) => Promise<unknown>;
    return { value: await fn.apply(local, req.args) };
  } catch (e) {
    if (e instanceof NotOwner) return { notOwner: true };
    if (e instanceof CommandError) return { error: e.code, ...(e.field ? { field: e.field } : {}) };
    if (e instanceof FencedError) return { notOwner: true };
    throw e;
  }
}
