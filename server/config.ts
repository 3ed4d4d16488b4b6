/** Configuration from environment variables (documented in the README). */
import { hostname } from 'node:os';
import path from 'node:path';
import { LIMITS } from '../shared/limits.js';

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  /**
   * `DATABASE_URL` (postgres://…): the PostgreSQL store; null or absent: the embedded store in
   * `dataDir`. (Optional so that configs built in code need not name it.)
   */
  databaseUrl?: string | null;
  /**
   * `REDIS_URL` (redis://…): several instances serve the same meetings (needs DATABASE_URL);
   * null or absent: this instance alone.
   */
  redisUrl?: string | null;
  /** Several instances: how long a meeting's lease lasts without renewal (LEASE_MS, ms). */
  leaseMs?: number;
  /** Public URL of the service, e.g. https://polyphony.example.org. Used for links and the Origin check. */
  publicUrl: string;
  /** Directory of the built client; null serves no pages (API only). */
  clientDir: string | null;
  /** Number of proxies in front of the server (Express `trust proxy`). */
  trustProxy: number;
  /** Group commit: how long the first write of a batch waits for others before the flush (ms). */
  flushWindowMs: number;
  /** Apply the per-address limits on opening and joining (RATE_LIMITS=off: none, nor per connection). */
  rateLimits: boolean;
  /**
   * On what basis records are kept, which decides what an erasure request does:
   * `consent` — erasure is real (the person at the centre can erase the whole record, anyone their
   * own words); `care-record` — the record is part of a health-care record: the request and the
   * reason for keeping it are recorded, and the person can add a correction or statement instead.
   */
  recordBasis: 'consent' | 'care-record';
  /** The reason shown when a care-record service keeps a record (RECORD_KEEP_REASON). */
  keepReason: string;
  /**
   * Sync and awareness messages per connection per second, with a burst of five seconds' worth
   * (MESSAGES_PER_SECOND; Infinity with RATE_LIMITS=off).
   */
  messagesPerSecond: number;
  /** Prometheus metrics on a port of their own (METRICS_PORT), or null. */
  metricsPort: number | null;
  /** Prometheus metrics at /metrics on the main port, behind `Authorization: Bearer <token>`, or null. */
  metricsToken: string | null;
  /** This instance's name in logs and metrics (INSTANCE; default: host name and port). */
  instance: string;
  /** Log every request (LOG_REQUESTS=on); otherwise only failures. */
  logRequests: boolean;
}

export function configFromEnv(env: NodeJS.ProcessEnv = process.env): Config {
  const port = Number(env.PORT ?? 3000);
  const host = env.HOST ?? '0.0.0.0';
  return {
    port,
    host,
    dataDir: path.resolve(env.DATA_DIR ?? 'data'),
    databaseUrl: env.DATABASE_URL ? env.DATABASE_URL : null,
    redisUrl: env.REDIS_URL ? env.REDIS_URL : null,
    leaseMs: Number(env.LEASE_MS ?? 5000),
    publicUrl: (env.PUBLIC_URL ?? `http://localhost:${port}`).replace(/\/+$/, ''),
    clientDir: env.CLIENT_DIR === '' ? null : path.resolve(env.CLIENT_DIR ?? 'dist'),
    trustProxy: Number(env.TRUST_PROXY ?? 0),
    flushWindowMs: Number(env.FLUSH_WINDOW_MS ?? 10),
    rateLimits: env.RATE_LIMITS !== 'off',
    recordBasis: env.RECORD_BASIS === 'care-record' ? 'care-record' : 'consent',
    keepReason:
      env.RECORD_KEEP_REASON ??
      'This service must keep meeting records as part of your health-care record. You can add a correction or a statement of your own to it.',
    messagesPerSecond:
      env.RATE_LIMITS === 'off' ? Infinity : Number(env.MESSAGES_PER_SECOND ?? LIMITS.messagesPerSecond),
    metricsPort: env.METRICS_PORT ? Number(env.METRICS_PORT) : null,
    metricsToken: env.METRICS_TOKEN ? env.METRICS_TOKEN : null,
    instance: env.INSTANCE ?? `${hostname()}:${port}`,
    logRequests: env.LOG_REQUESTS === 'on',
  };
}
