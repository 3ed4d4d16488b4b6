/**
 * Messages between instances over Redis (ioredis pub/sub): each instance listens on a channel of
 * its own, for requests (answered on the asker's channel) and one-way messages, and hears every
 * instance's heartbeat on a shared channel. Pub/sub may drop messages while Redis is away: callers
 * time requests out, number their one-way streams (the receiver detects a gap and resyncs), and
 * are told when the connection to Redis came back (`onReconnect`), so nothing stale is served.
 *
 * Broadcasts to connections go through the Socket.IO Redis streams adapter instead (it resumes
 * after a Redis blip without losing packets).
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Log } from '../context.js';

const PREFIX = 'polyphony:';
const HEARTBEAT_MS = 1000;
/** An instance not heard from for this long is gone. */
const GONE_AFTER_MS = 4000;

type Envelope =
  | { k: 'req'; id: string; from: string; body: unknown }
  | { k: 'res'; id: string; ok: true; value: unknown }
  | { k: 'res'; id: string; ok: false; error: string }
  | { k: 'msg'; from: string; body: unknown }
  | { k: 'hb'; from: string }
  | { k: 'all'; from: string; body: unknown };

/** The answer to a request could not be had: the other instance is gone or Redis is away. */
export class BusTimeout extends Error {
  constructor() {
    super('no answer from the instance');
    this.name = 'BusTimeout';
  }
}

export class Bus {
  readonly #pub: Redis;
  readonly #sub: Redis;
  readonly #waiting = new Map<string, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  readonly #seen = new Map<string, number>();
  readonly #reconnectHandlers: Array<() => void> = [];
  #onRequest: (body: unknown, from: string) => Promise<unknown> = () => Promise.reject(new Error('no handler'));
  #onMessage: (body: unknown, from: string) => void = () => undefined;
  #onAll: (body: unknown, from: string) => void = () => undefined;
  readonly #heartbeat: NodeJS.Timeout;
  #wasReady = false;
  #closed = false;

  private constructor(
    readonly instance: string,
    pub: Redis,
    sub: Redis,
    readonly log: Log,
    onError: () => void,
  ) {
    this.#pub = pub;
    this.#sub = sub;
    sub.on('messageBuffer', (_channel: Buffer, data: Buffer) => this.#receive(data));
    // ioredis reconnects by itself; each error is counted (metrics), not thrown.
    for (const c of [pub, sub]) c.on('error', onError);
    sub.on('ready', () => {
      // Re-subscribed after a break (ioredis does that itself): what was sent meanwhile is lost.
      if (this.#wasReady && !this.#closed) {
        this.log.warn({}, 'Redis is back; resyncing what may have been missed');
        for (const h of this.#reconnectHandlers) h();
      }
      this.#wasReady = true;
    });
    this.#heartbeat = setInterval(() => this.#publish(`${PREFIX}all`, { k: 'hb', from: instance }), HEARTBEAT_MS);
    this.#heartbeat.unref();
  }

  static async open(url: string, instance: string, log: Log, onError: () => void = () => undefined): Promise<Bus> {
    const options = { maxRetriesPerRequest: null, lazyConnect: true } as const;
    const pub = new Redis(url, options);
    const sub = new Redis(url, options);
    await Promise.all([pub.connect(), sub.connect()]);
    await sub.subscribe(`${PREFIX}i:${instance}`, `${PREFIX}all`);
    const bus = new Bus(instance, pub, sub, log, onError);
    bus.#wasReady = true;
    return bus;
  }

  /** The Redis connection that the Socket.IO adapter uses too. */
  get redis(): Redis {
    return this.#pub;
  }

  handle(handlers: {
    request: (body: unknown, from: string) => Promise<unknown>;
    message: (body: unknown, from: string) => void;
    all: (body: unknown, from: string) => void;
  }): void {
    this.#onRequest = handlers.request;
    this.#onMessage = handlers.message;
    this.#onAll = handlers.all;
  }

  onReconnect(handler: () => void): void {
    this.#reconnectHandlers.push(handler);
  }

  /** Resolves when Redis answers (readiness); rejects after a second without an answer. */
  async ping(): Promise<void> {
    await Promise.race([
      this.#pub.ping(),
      new Promise((_, reject) => setTimeout(() => reject(new Error('Redis does not answer')), 1000).unref()),
    ]);
  }

  /** Whether an instance was heard from lately. */
  alive(instance: string): boolean {
    if (instance === this.instance) return true;
    const at = this.#seen.get(instance);
    return at !== undefined && Date.now() - at < GONE_AFTER_MS;
  }

  /** Ask another instance; rejects with `BusTimeout` when no answer comes in time. */
  request(to: string, body: unknown, timeoutMs = 8000): Promise<unknown> {
    const id = randomUUID();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(id);
        reject(new BusTimeout());
      }, timeoutMs);
      this.#waiting.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.#publish(`${PREFIX}i:${to}`, { k: 'req', id, from: this.instance, body });
    });
  }

  /** A one-way message to one instance (callers number them to detect loss). */
  send(to: string, body: unknown): void {
    this.#publish(`${PREFIX}i:${to}`, { k: 'msg', from: this.instance, body });
  }

  /** A one-way message to every other instance. */
  everyone(body: unknown): void {
    this.#publish(`${PREFIX}all`, { k: 'all', from: this.instance, body });
  }

  #publish(channel: string, e: Envelope): void {
    if (this.#closed) return;
    this.#pub.publish(channel, JSON.stringify(e, encode)).catch(() => undefined);
  }

  #receive(data: Buffer): void {
    let e: Envelope;
    try {
      e = JSON.parse(data.toString('utf8'), decode) as Envelope;
    } catch {
      return;
    }
    switch (e.k) {
      case 'hb':
        this.#seen.set(e.from, Date.now());
        return;
      case 'all':
        if (e.from !== this.instance) this.#onAll(e.body, e.from);
        return;
      case 'msg':
        this.#seen.set(e.from, Date.now());
        this.#onMessage(e.body, e.from);
        return;
      case 'req': {
        this.#seen.set(e.from, Date.now());
        const reply = (r: Envelope) => this.#publish(`${PREFIX}i:${e.from}`, r);
        this.#onRequest(e.body, e.from).then(
          (value) => reply({ k: 'res', id: e.id, ok: true, value: value ?? null }),
          (err: Error) => reply({ k: 'res', id: e.id, ok: false, error: err.message }),
        );
        return;
      }
      case 'res': {
        const w = this.#waiting.get(e.id);
        if (!w) return;
        this.#waiting.delete(e.id);
        if (e.ok) w.resolve(e.value);
        else w.reject(new Error(e.error));
        return;
      }
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#heartbeat);
    for (const w of this.#waiting.values()) w.reject(new BusTimeout());
    this.#waiting.clear();
    await Promise.allSettled([this.#sub.quit(), this.#pub.quit()]);
  }
}

/**
 * JSON that carries Maps (a record's snapshot holds them) and bytes (Yjs messages) too. Bytes must
 * be plain Uint8Arrays (`bytesOf`): a Node Buffer reaches the replacer already as its toJSON form.
 */
function encode(_key: string, value: unknown): unknown {
  if (value instanceof Map) return { $map: [...(value as Map<unknown, unknown>)] };
  if (value instanceof Uint8Array)
    return { $bytes: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  return value;
}

function decode(_key: string, value: unknown): unknown {
  if (value && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length === 1) {
    const entries = (value as { $map?: unknown }).$map;
    if (Array.isArray(entries)) return new Map(entries as Array<[unknown, unknown]>);
    const bytes = (value as { $bytes?: unknown }).$bytes;
    if (typeof bytes === 'string') {
      const b = Buffer.from(bytes, 'base64');
      return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    }
  }
  return value;
}
