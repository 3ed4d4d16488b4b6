/**
 * The one owner of every meeting's lifecycle: load once (concurrent callers share one load),
 * unload when nobody is connected and everything is saved, never drop a meeting whose save
 * is failing, flush everything on shutdown.
 */
import { DamagedError, type MeetingRecord, type ParticipantRecord, type Store } from '../store/types.js';
import { CloseReason } from '../../shared/errors.js';
import type { Clock, Log } from '../context.js';
import type { Metrics } from '../metrics.js';
import { NotOwner, soloPlacement, type Claim, type Placement } from '../cluster/placement.js';
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
  /** Which meetings this instance may serve (default: all of them, alone). */
  placement?: Placement;
  /** A meeting's place in its series changed: tell the instance that serves it, if another does. */
  refreshElsewhere?: (meetingId: string) => void;
}

export class Meetings {
  readonly #loaded = new Map<string, Meeting>();
  readonly #loading = new Map<string, Promise<Meeting>>();
  readonly #damaged = new Map<string, DamagedError>();
  readonly #unloadTimers = new Map<string, NodeJS.Timeout>();
  readonly #claims = new Map<string, Claim>();
  readonly #placement: Placement;
  #closing = false;

  constructor(readonly deps: RegistryDeps) {
    this.#placement = deps.placement ?? soloPlacement('solo');
    this.#placement.onLost((id) => this.drop(id));
  }

  /**
   * Stop serving a meeting at once (its lease was lost, or the store refused a write because
   * another instance took it over): everyone connected to it, on any instance, is told to
   * reconnect and is then served by its new owner. What was not yet durable was not acknowledged.
   */
  drop(id: string): void {
    const m = this.#loaded.get(id);
    this.#claims.delete(id);
    if (!m) return;
    this.#loaded.delete(id);
    m.port.closeAll(CloseReason.restarting);
    m.close();
  }

  /** Whether this loaded meeting is still certainly served here (its lease has not run out). */
  serving(m: Meeting): boolean {
    if (this.#loaded.get(m.id) !== m) return false;
    if (this.#claims.get(m.id)?.valid()) return true;
    this.drop(m.id);
    return false;
  }

  /** The loaded meeting, loading it if needed. Undefined when no such meeting exists. */
  async get(id: string): Promise<Meeting | undefined> {
    if (this.#closing) throw new NotOwner('shutting down');
    const loaded = this.#loaded.get(id);
    if (loaded && this.serving(loaded)) return loaded;
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

  /** The meeting if it is loaded and served here. */
  peek(id: string): Meeting | undefined {
    const m = this.#loaded.get(id);
    return m && this.serving(m) ? m : undefined;
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
    // Several instances: this one takes the meeting's lease first (NotOwner when another holds it).
    const claim = await this.#placement.claim(id);
    this.#claims.set(id, claim);
    try {
      const participants = await store.participants(id);
      const meeting = await Meeting.load(record, participants, await meetingContext(store, record), {
        store,
        port: this.deps.port(id),
        clock: this.deps.clock,
        log: this.deps.log,
        flushWindowMs: this.deps.flushWindowMs,
        onLost: () => this.drop(id),
        ...(this.deps.metrics ? { metrics: this.deps.metrics } : {}),
      });
      await this.deps.afterLoad?.(meeting, record, participants);
      if (this.#closing || !claim.valid()) {
        meeting.close();
        throw new NotOwner('lease ran out while loading');
      }
      this.#loaded.set(id, meeting);
      this.release(id);
      return meeting;
    } catch (e) {
      if (this.#claims.get(id) === claim && !this.#loaded.has(id)) {
        this.#claims.delete(id);
        void this.#placement.release(id);
      }
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
    this.#claims.delete(id);
    await this.#placement.release(id);
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
    this.#claims.delete(id);
    await this.#placement.release(id);
  }

  /** Tell a loaded meeting that its place in the network's series changed. */
  async refreshContext(id: string, here = false): Promise<void> {
    const m = this.peek(id);
    if (!m) {
      if (!here) this.deps.refreshElsewhere?.(id);
      return;
    }
    const record = await this.deps.store.meeting(id);
    if (record) m.setContext(await meetingContext(this.deps.store, record));
  }

  get size(): number {
    return this.#loaded.size;
  }

  /** A meeting found damaged without being opened (the start-up scan): refused and reported. */
  noteDamaged(id: string, e: DamagedError): void {
    if (this.#loaded.has(id) || this.#damaged.has(id)) return;
    this.deps.log.error(
      { meeting: id, file: e.file, reason: e.reason },
      'meeting storage is damaged; kept for recovery',
    );
    this.#damaged.set(id, e);
  }

  damaged(): Array<{ meetingId: string; reason: string }> {
    return [...this.#damaged].map(([meetingId, e]) => ({ meetingId, reason: e.reason }));
  }

  /**
   * Flush every meeting and release them (graceful shutdown): everyone connected to them, on
   * any instance, is told to reconnect, and another instance takes them over at once.
   */
  async close(): Promise<void> {
    this.#closing = true;
    for (const t of this.#unloadTimers.values()) clearTimeout(t);
    this.#unloadTimers.clear();
    await Promise.allSettled([...this.#loading.values()]);
    await Promise.allSettled([...this.#loaded.values()].map((m) => m.flushed()));
    for (const m of this.#loaded.values()) {
      if (this.#placement.shared) m.port.closeAll(CloseReason.restarting);
      m.close();
    }
    this.#loaded.clear();
    this.#claims.clear();
    await this.#placement.close();
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
