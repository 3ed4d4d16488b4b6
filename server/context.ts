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

export const consoleLog: Log = {
  info: (f, m) => console.log(JSON.stringify({ level: 'info', msg: m, ...f })),
  warn: (f, m) => console.warn(JSON.stringify({ level: 'warn', msg: m, ...f })),
  error: (f, m) => console.error(JSON.stringify({ level: 'error', msg: m, ...f })),
};

export const silentLog: Log = { info() {}, warn() {}, error() {} };
