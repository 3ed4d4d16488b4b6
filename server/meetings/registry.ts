/**
 * The one owner of every meeting's lifecycle: load once (concurrent callers share one load),
 * unload when nobody is connected and everything is saved, never drop a meeting whose save
 * is failing, flush everything on shutdown.
 */
import { DamagedError, type MeetingRecord, type ParticipantRecord, type Store } from '../store/types.js';
import { CloseReason } from '../../shared/errors.js';
import type { Clock, Log } from '../context.js';
import type { Metrics } from '../metrics.js';
import { Meeting, type MeetingContext, type MeetingPort } from './meeting.js';

export interface RegistryDeps {
  store: Store;
  clock: Clock;
  log: Log;
  flushWindowMs: number;
  /** How long an empty meeting stays in memory (ms). */
  unloadAfterMs: number;
  port: (meetingId: string) => MeetingPort;
  /** Run once a meeting is loaded, before anyone is served from it (the commands layer's reconcile). */
  metrics?: Metrics;
  afterLoad?: (m: Meeting, record: MeetingRecord, participants: readonly ParticipantRecord[]) => Promise<void>;
}

export class Meetings {
  readonly #loaded = new Map<string, Meeting>();
  readonly #loading = new Map<string, Promise<Meeting>>();
  readonly #damaged = new Map<string, DamagedError>();
  readonly #unloadTimers = new Map<string, NodeJS.Timeout>();
  #closing = false;

  constructor(readonly deps: RegistryDeps) {}

  /** The loaded meeting, loading it if needed. Undefined when no such meeting exists. */
  async get(id: string): Promise<Meeting | undefined> {
    if (this.#closing) throw new Error('shutting down');
    const loaded = this.#loaded.get(id);
    if (loaded) return loaded;
    const damaged = this.#damaged.get(id);
    if (damaged) throw damaged;
    let loading = this.#loading.get(id);
    if (!loading) {
      loading = this.#load(id);
      this.#loading.set(id, loading);
      loading.then(
        () => this.#loading.delete(id),
        () => this.#loading.delete(id),
      );
    }
    return loading.catch((e: unknown) => {
      if (e instanceof NoSuchMeeting) return undefined;
      throw e;
    });
  }

  peek(id: string): Meeting | undefined {
    return this.#loaded.get(id);
  }

  async #load(id: string): Promise<Meeting> {
    const { store } = this.deps;
    const record = await store.meeting(id);
    if (!record) throw new NoSuchMeeting();
    if (record.erased) {
      // Erased for good: a crash may have come between the rows and the log; finish the job.
      await store.removeUpdates(id);
      throw new NoSuchMeeting();
    }
    try {
      const participants = await store.participants(id);
      const meeting = await Meeting.load(record, participants, await meetingContext(store, record), {
        store,
        port: this.deps.port(id),
        clock: this.deps.clock,
        log: this.deps.log,
        flushWindowMs: this.deps.flushWindowMs,
        ...(this.deps.metrics ? { metrics: this.deps.metrics } : {}),
      });
      await this.deps.afterLoad?.(meeting, record, participants);
      this.#loaded.set(id, meeting);
      this.release(id);
      return meeting;
    } catch (e) {
      if (e instanceof DamagedError) {
        this.deps.log.error(
          { meeting: id, file: e.file, reason: e.reason },
          'meeting storage is damaged; kept for recovery',
        );
        this.#damaged.set(id, e);
      }
      throw e;
    }
  }

  /** Called when a connection leaves: unload the meeting later if it is then idle. */
  release(id: string): void {
    const old = this.#unloadTimers.get(id);
    if (old) clearTimeout(old);
    const timer = setTimeout(() => void this.#maybeUnload(id), this.deps.unloadAfterMs);
    timer.unref();
    this.#unloadTimers.set(id, timer);
  }

  async #maybeUnload(id: string): Promise<void> {
    this.#unloadTimers.delete(id);
    const m = this.#loaded.get(id);
    if (!m || !m.idle) return;
    await m.flushed();
    if (!m.idle || this.#loaded.get(id) !== m) return;
    this.#loaded.delete(id);
    m.close();
  }

  /**
   * Erase a whole record: unload it, delete its stored updates (and any damaged copies), and tell
   * every connected device to drop its copy. The meeting's record keeps only that it was erased.
   */
  async eraseRecord(id: string): Promise<void> {
    const m = this.#loaded.get(id);
    if (m) {
      await m.flushed();
      m.port.erased('meeting');
      m.port.closeAll(CloseReason.recordErased);
      this.#loaded.delete(id);
      m.close();
    }
    this.#damaged.delete(id);
    await this.deps.store.removeUpdates(id);
  }

  /** Tell a loaded meeting that its place in the network's series changed. */
  async refreshContext(id: string): Promise<void> {
    const m = this.#loaded.get(id);
    const record = await this.deps.store.meeting(id);
    if (m && record) m.setContext(await meetingContext(this.deps.store, record));
  }

  get size(): number {
    return this.#loaded.size;
  }

  damaged(): Array<{ meetingId: string; reason: string }> {
    return [...this.#damaged].map(([meetingId, e]) => ({ meetingId, reason: e.reason }));
  }

  /** Flush every meeting and release them (graceful shutdown). */
  async close(): Promise<void> {
    this.#closing = true;
    for (const t of this.#unloadTimers.values()) clearTimeout(t);
    this.#unloadTimers.clear();
    await Promise.allSettled([...this.#loading.values()]);
    await Promise.all([...this.#loaded.values()].map((m) => m.flushed()));
    for (const m of this.#loaded.values()) m.close();
    this.#loaded.clear();
  }
}

class NoSuchMeeting extends Error {}

/** The network a meeting belongs to, and its neighbours in the network's series. */
export async function meetingContext(store: Store, record: MeetingRecord): Promise<MeetingContext> {
  const network = await store.network(record.networkId);
  const series = await store.meetingsOfNetwork(record.networkId);
  const i = series.findIndex((m) => m.id === record.id);
  return {
    network: {
      name: network?.name ?? '',
      firstContactAt: network?.firstContactAt ?? record.openedAt,
      firstMeetingAt: series[0]?.openedAt ?? record.openedAt,
    },
    previous: i > 0 ? series[i - 1]!.id : null,
    next: i >= 0 && i + 1 < series.length ? series[i + 1]!.id : null,
  };
}
