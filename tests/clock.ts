/**
 * A held clock for the in-process server. The per-connection message limiter reads `Date.now()`
 * (it does not take the app's injected clock yet): holding that still while a test runs, and moving
 * it only when told, makes what the limiter allows exact, and no test waits for a real second.
 */
import { onTestFinished, vi } from 'vitest';

export interface HeldClock {
  /** Move the clock forward, e.g. by a limiter's whole window. */
  advance(ms: number): void;
}

/**
 * Hold `Date.now()` at its current value until the running test ends (then it is the real clock
 * again). Everything in this test file's process sees it: the server, the clients, `until`.
 */
export function holdClock(): HeldClock {
  let now = Date.now();
  const spy = vi.spyOn(Date, 'now').mockImplementation(() => now);
  onTestFinished(() => spy.mockRestore());
  return {
    advance(ms) {
      now += ms;
    },
  };
}
