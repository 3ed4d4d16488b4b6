/** Configuration from environment variables (documented in the README). */
import path from 'node:path';

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  /** Public URL of the service, e.g. https://polyphony.example.org. Used for links and the Origin check. */
  publicUrl: string;
  /** Directory of the built client; null serves no pages (API only). */
  clientDir: string | null;
  /** Number of proxies in front of the server (Express `trust proxy`). */
  trustProxy: number;
  /** Group commit: how long the first write of a batch waits for others before the flush (ms). */
  flushWindowMs: number;
  /** Apply the per-address limits on opening and joining. */
  rateLimits: boolean;
}

export function configFromEnv(env: NodeJS.ProcessEnv = process.env): Config {
  const port = Number(env.PORT ?? 3000);
  const host = env.HOST ?? '0.0.0.0';
  return {
    port,
    host,
    dataDir: path.resolve(env.DATA_DIR ?? 'data'),
    publicUrl: (env.PUBLIC_URL ?? `http://localhost:${port}`).replace(/\/+$/, ''),
    clientDir: env.CLIENT_DIR === '' ? null : path.resolve(env.CLIENT_DIR ?? 'dist'),
    trustProxy: Number(env.TRUST_PROXY ?? 0),
    flushWindowMs: Number(env.FLUSH_WINDOW_MS ?? 2),
    rateLimits: env.RATE_LIMITS !== 'off',
  };
}
