/**
 * A meeting's write queue: the one writer of its update log. Every applied update is queued;
 * updates that arrive while a flush runs share the next one (group commit: one append, one
 * fsync or COMMIT, for all of them). Only once the store has made a batch durable does the queue
 * report the documents' durable state vectors (what "saved" is built from). A failed flush keeps
 * everything in memory, in order, and retries with backoff; nothing is ever dropped.
 */
import type { Log } from '../context.js';
import type { Metrics } from '../metrics.js';
import { FencedError, type DocUpdate, type UpdateLogStore } from '../store/types.js';

const RETRY_MS = [200, 500, 1000, 2000, 5000];

export interface WriteQueueDeps {
  store: UpdateLogStore;
  meetingId: string;
  log: Log;
  /**
   * How long the first write of a batch waits for others (ms); 0 = the next turn of the loop. A
   * batch that someone awaits (`flushed()`: a command's acknowledgement) does not wait.
   */
  flushWindowMs: number;
  /** The state vector of a document as it is now (taken when a batch is cut). */
  stateVector(doc: string): Uint8Array | undefined;
  /** Everything of these documents up to these state vectors is durable. */
  onDurable(svs: ReadonlyMap<string, Uint8Array>): void;
  /** Storage started failing, or recovered. */
  onStorage(status: 'ok' | 'failing'): void;
  /** The store refused a write because another instance serves the meeting now (never retried). */
  onLost?(): void;
  metrics?: Pick<Metrics, 'flushSeconds' | 'flushedUpdates' | 'storeErrors'>;
}

export class WriteQueue {
  #pending: DocUpdate[] = [];
  #flushing: Promise<void> | null = null;
  #failures = 0;
  #retryTimer: NodeJS.Timeout | null = null;
  #closed = false;
  /** Set once the store said another instance holds the meeting: nothing more is written or promised. */
  #lost: FencedError | null = null;
  #idleWaiters: Array<() => void> = [];
  /** While the group-commit window of the next flush is open: end it now (someone awaits the flush). */
  #cutWindow: (() => void) | null = null;
  /** Callers awaiting `flushed()`: while there are any, no batch waits for its window. */
  #awaited = 0;

  constructor(readonly deps: WriteQueueDeps) {}

  enqueue(u: DocUpdate): void {
    if (this.#lost) return;
    this.#pending.push(u);
    this.#schedule();
  }

  get failing(): boolean {
    return this.#failures > 0;
  }

  /** Nothing waiting to be written. */
  get idle(): boolean {
    return this.#pending.length === 0 && !this.#flushing && !this.#retryTimer;
  }

  /**
   * Resolves once everything queued so far is durably stored (waits through retries). Rejects
   * with `FencedError` when another instance took the meeting over: nothing may be acknowledged.
   */
  async flushed(): Promise<void> {
    // An acknowledgement waits for this: batches go at once rather than at the end of a window.
    this.#awaited++;
    try {
      this.#cutWindow?.();
      while (!this.#closed && !this.idle) {
        await new Promise<void>((r) => this.#idleWaiters.push(r));
      }
    } finally {
      this.#awaited--;
    }
    if (this.#lost) throw this.#lost;
  }

  /** Stop retrying. Keeps nothing back: await `flushed()` first when the store works. */
  close(): void {
    this.#closed = true;
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    this.#notifyIdle();
  }

  #schedule(): void {
    if (this.#flushing || this.#retryTimer) return;
    this.#flushing = new Promise<void>((resolve) => {
      const run = () => void this.#flush().finally(resolve);
      if (this.deps.flushWindowMs > 0 && this.#awaited === 0) {
        const timer = setTimeout(() => {
          this.#cutWindow = null;
          run();
        }, this.deps.flushWindowMs);
        this.#cutWindow = () => {
          this.#cutWindow = null;
          clearTimeout(timer);
          run();
        };
      } else setImmediate(run);
    }).then(() => {
      this.#flushing = null;
      if (this.#pending.length > 0) this.#schedule();
      else if (!this.#retryTimer) this.#notifyIdle();
    });
  }

  async #flush(): Promise<void> {
    const batch = this.#pending;
    if (batch.length === 0) return;
    this.#pending = [];
    const svs = new Map<string, Uint8Array>();
    for (const d of new Set(batch.map((u) => u.doc))) {
      const sv = this.deps.stateVector(d);
      if (sv) svs.set(d, sv);
    }
    const timer = this.deps.metrics?.flushSeconds.startTimer();
    try {
      await this.deps.store.appendUpdates(this.deps.meetingId, batch);
      timer?.();
      this.deps.metrics?.flushedUpdates.inc(batch.length);
    } catch (e) {
      if (e instanceof FencedError) {
        this.#lost = e;
        this.deps.log.warn({ meeting: this.deps.meetingId }, 'another instance serves this meeting now; stopped');
        this.close();
        this.deps.onLost?.();
        return;
      }
      this.deps.metrics?.storeErrors.inc();
      this.#pending = batch.concat(this.#pending);
      const delay = RETRY_MS[Math.min(this.#failures, RETRY_MS.length - 1)]!;
      if (this.#failures === 0) {
        this.deps.log.error(
          { meeting: this.deps.meetingId, err: (e as Error).message },
          'storage failed; keeping edits in memory and retrying',
        );
        this.deps.onStorage('failing');
      }
      this.#failures++;
      if (!this.#closed) {
        this.#retryTimer = setTimeout(() => {
          this.#retryTimer = null;
          this.#schedule();
        }, delay);
      }
      return;
    }
    if (this.#failures > 0) {
      this.#failures = 0;
      this.deps.log.info({ meeting: this.deps.meetingId }, 'storage recovered');
      this.deps.onStorage('ok');
    }
    this.deps.onDurable(svs);
  }

  #notifyIdle(): void {
    const w = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const r of w) r();
  }
}
