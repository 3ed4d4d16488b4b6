/**
 * Prometheus metrics, one registry per app (no module-level state). Labels never carry meeting
 * ids, names or words: only refusal codes and fixed names. Served on `METRICS_PORT` (a port of its
 * own, for a private network) and, with `METRICS_TOKEN`, at `/metrics` behind that bearer token.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();
  readonly connections = new Gauge({
    name: 'polyphony_connections',
    help: 'Open Socket.IO connections',
    registers: [this.registry],
  });
  /** How many meetings are loaded, read when Prometheus scrapes. */
  countLoaded: () => number = () => 0;
  readonly meetingsLoaded: Gauge = new Gauge({
    name: 'polyphony_meetings_loaded',
    help: 'Meetings in memory',
    registers: [this.registry],
    collect: () => this.meetingsLoaded.set(this.countLoaded()),
  });
  readonly updatesApplied = new Counter({
    name: 'polyphony_updates_applied_total',
    help: 'Voice-document updates checked and applied',
    registers: [this.registry],
  });
  readonly refusals = new Counter({
    name: 'polyphony_refusals_total',
    help: 'Data-plane messages refused, by code',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
  readonly flushSeconds = new Histogram({
    name: 'polyphony_flush_seconds',
    help: 'Time to make one batch of updates durable (append + fsync or COMMIT)',
    buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly flushedUpdates = new Counter({
    name: 'polyphony_flushed_updates_total',
    help: 'Updates made durable',
    registers: [this.registry],
  });
  readonly storeErrors = new Counter({
    name: 'polyphony_store_errors_total',
    help: 'Failed store writes (retried)',
    registers: [this.registry],
  });
  readonly redisErrors = new Counter({
    name: 'polyphony_redis_errors_total',
    help: 'Redis errors',
    registers: [this.registry],
  });

  constructor(opts: { instance?: string } = {}) {
    if (opts.instance) this.registry.setDefaultLabels({ instance: opts.instance });
    collectDefaultMetrics({ register: this.registry, prefix: 'polyphony_' });
  }
}
