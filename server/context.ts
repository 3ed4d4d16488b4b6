import { pino, type DestinationStream } from 'pino';

/** Things the composition root hands to every module: time and logging (replaceable in tests). */
export interface Clock {
  now(): number;
}

/** A structured log. Never pass it request bodies, socket payloads, tokens or words of the record. */
export interface Log {
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
  error(fields: Record<string, unknown>, msg: string): void;
}

export const systemClock: Clock = { now: () => Date.now() };

/**
 * Structured JSON logs (pino) on stdout. Callers pass ids, codes and counts only — never words of
 * the record, names, request bodies or tokens (tests/logs.test.ts checks a whole meeting's logs).
 */
export function jsonLog(bindings: Record<string, unknown> = {}, destination?: DestinationStream): Log {
  return pino({ base: bindings, timestamp: pino.stdTimeFunctions.isoTime }, destination);
}

export const silentLog: Log = { info() {}, warn() {}, error() {} };
