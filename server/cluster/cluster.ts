/**
 * Several instances (REDIS_URL with DATABASE_URL): the pieces the composition root wires in.
 *
 * - Leases in PostgreSQL decide which instance serves each meeting (leases.ts), and the store
 *   checks the lease's token on every write to a meeting's log (fencing).
 * - The bus (Redis pub/sub) carries commands, relayed connections and heartbeats between
 *   instances (bus.ts, routing.ts, live/socket.ts).
 * - The Socket.IO Redis streams adapter carries every broadcast to connections on every instance.
 *
 * Without REDIS_URL: one instance, every meeting served here, nothing of this runs.
 */
import { randomUUID } from 'node:crypto';
import { createAdapter } from '@socket.io/redis-streams-adapter';
import type { Config } from '../config.js';
import type { Log } from '../context.js';
import type { LiveServer } from '../live/socket.js';
import type { Metrics } from '../metrics.js';
import { PgStore } from '../store/pgStore.js';
import type { Store } from '../store/types.js';
import { Bus } from './bus.js';
import { Leases } from './leases.js';
import { soloPlacement, type Placement } from './placement.js';

export interface Cluster {
  placement: Placement;
  bus: Bus | null;
  /** The Socket.IO adapter that reaches connections on every instance (null: this process only). */
  adapter: ReturnType<typeof createAdapter> | null;
  close(): Promise<void>;
}

/**
 * Resolves once this instance reads the adapter's stream (its own probes come back through it).
 * The adapter's reader connects in the background and then reads only what is added after its
 * first read (`$`): a broadcast from another instance before that — who is here, as the first
 * people connect — would never arrive. So the server listens only once it hears the stream.
 */
export async function streamHeard(io: LiveServer, timeoutMs = 20_000): Promise<void> {
  const adapter = io.of('/').adapter as unknown as { onRawMessage?: (m: unknown, offset: string) => void };
  const read = adapter.onRawMessage;
  if (typeof read !== 'function') return;
  let heard = false;
  adapter.onRawMessage = (m, offset) => {
    heard = true;
    adapter.onRawMessage = read;
    read.call(adapter, m, offset);
  };
  const probe = `probe:${randomUUID()}`;
  const until = Date.now() + timeoutMs;
  while (!heard) {
    if (Date.now() > until) {
      adapter.onRawMessage = read;
      throw new Error('the Redis stream of broadcasts cannot be read');
    }
    // A broadcast to a room nobody is in: it only goes through the stream.
    io.to(probe).emit('presence', []);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function openCluster(config: Config, store: Store, log: Log, metrics?: Metrics): Promise<Cluster> {
  if (!config.redisUrl) {
    return { placement: soloPlacement(config.instance), bus: null, adapter: null, close: () => Promise.resolve() };
  }
  if (!(store instanceof PgStore)) {
    throw new Error('REDIS_URL needs DATABASE_URL: several instances share one PostgreSQL database');
  }
  // Unique per process: a restarted instance is a new one, never mistaken for the one that died.
  const instance = `${config.instance}/${randomUUID().slice(0, 8)}`;
  const leases = new Leases(store.pool, instance, config.leaseMs ?? 5000, log);
  store.setFence((meetingId) => leases.fence(meetingId));
  const bus = await Bus.open(config.redisUrl, instance, log, () => metrics?.redisErrors.inc());
  const adapter = createAdapter(bus.redis, { streamName: 'polyphony:socket.io' });
  return {
    placement: leases,
    bus,
    adapter,
    close: () => bus.close(),
  };
}
