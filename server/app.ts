/**
 * The composition root: builds every part from its dependencies and returns the HTTP server
 * and `close()`. No module-level state, so tests start as many servers as they like.
 */
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import compression from 'compression';
import express from 'express';
import helmet from 'helmet';
import { Server } from 'socket.io';
import { LIMITS } from '../shared/limits.js';
import { CloseReason } from '../shared/errors.js';
import { parser } from '../shared/wire.js';
import { frameBroadcastsOnce } from './live/frames.js';
import type { Config } from './config.js';
import { randomUUID } from 'node:crypto';
import { jsonLog, systemClock, type Clock, type Log } from './context.js';
import { Metrics } from './metrics.js';
import { apiRouter } from './http/api.js';
import { Commands } from './commands/commands.js';
import { openCluster, streamHeard } from './cluster/cluster.js';
import { routeCommands, serveCommand, type CommandRequest } from './cluster/routing.js';
import { reconcileRows } from './commands/reconcile.js';
import {
  attachLive,
  disconnectParticipant,
  meetingPort,
  type LiveServer,
  type RelayMessage,
  type RelayRequest,
} from './live/socket.js';
import { Meetings } from './meetings/registry.js';
import { openStore } from './store/open.js';
import type { Store } from './store/types.js';

export interface AppDeps {
  config: Config;
  store?: Store;
  clock?: Clock;
  log?: Log;
  /** How long an empty meeting stays loaded (ms). */
  unloadAfterMs?: number;
}

export interface App {
  http: HttpServer;
  io: LiveServer;
  store: Store;
  meetings: Meetings;
  metrics: Metrics;
  /** Listen on config.port (0 = any free port); resolves with the bound URL. */
  listen(): Promise<string>;
  /** Stop accepting, flush every pending write, close the store. */
  close(): Promise<void>;
}

export async function createApp(deps: AppDeps): Promise<App> {
  const { config } = deps;
  const clock = deps.clock ?? systemClock;
  const log = deps.log ?? jsonLog({ instance: config.instance });
  const metrics = new Metrics({ instance: config.instance });
  const store = deps.store ?? (await openStore(config));
  const cluster = await openCluster(config, store, log, metrics);
  const { placement, bus } = cluster;

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', config.trustProxy);
  app.use(
    helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'self'"],
          scriptSrc: ["'self'"],
          styleSrc: ["'self'"],
          imgSrc: ["'self'"],
          fontSrc: ["'self'"],
          connectSrc: ["'self'"],
          manifestSrc: ["'self'"],
          objectSrc: ["'none'"],
          baseUri: ["'none'"],
          formAction: ["'self'"],
          frameAncestors: ["'none'"],
        },
      },
      crossOriginEmbedderPolicy: false,
      referrerPolicy: { policy: 'no-referrer' },
    }),
  );

  // A request id for every request, in the answer's header and the log line (never bodies, tokens
  // or the URL's query: only the route's pattern).
  app.use((req, res, next) => {
    const id = randomUUID();
    const started = process.hrtime.bigint();
    res.setHeader('X-Request-Id', id);
    res.on('finish', () => {
      if (res.statusCode < 500 && !config.logRequests) return;
      const route =
        (req.route as { path?: string } | undefined)?.path ?? (req.path.startsWith('/api') ? 'api' : 'static');
      log[res.statusCode >= 500 ? 'error' : 'info'](
        {
          req: id,
          method: req.method,
          route,
          status: res.statusCode,
          ms: Number(process.hrtime.bigint() - started) / 1e6,
        },
        'request',
      );
    });
    next();
  });

  // Operations: alive, ready (the store answers; damaged meetings listed), metrics behind a token.
  app.get('/healthz', (_req, res) => {
    res.set('Cache-Control', 'no-store').json({ ok: true });
  });
  // Ready: the store answers, Redis answers (several instances), migrations ran (before start-up
  // got this far); meetings whose storage is damaged are listed, found by a scan at start-up.
  app.get('/readyz', (_req, res) => {
    void Promise.all([store.meeting('readiness-probe-0000000'), bus?.ping()])
      .then(() => res.set('Cache-Control', 'no-store').json({ ok: true, damaged: meetings.damaged() }))
      .catch(() => res.status(503).set('Cache-Control', 'no-store').json({ ok: false, damaged: meetings.damaged() }));
  });
  if (config.metricsToken) {
    const expected = `Bearer ${config.metricsToken}`;
    app.get('/metrics', (req, res) => {
      if (req.headers.authorization !== expected) {
        res.status(404).type('text/plain').send('Not found');
        return;
      }
      void metrics.registry.metrics().then((text) => res.type(metrics.registry.contentType).send(text));
    });
  }

  const http = createServer(app);
  const io: LiveServer = new Server(http, {
    parser,
    maxHttpBufferSize: LIMITS.packetBytes,
    serveClient: false,
    // No connection-state recovery: every reconnection passes the handshake's checks again.
    // Several instances: WebSocket only, so that no sticky sessions are needed behind a proxy.
    ...(cluster.adapter ? { adapter: cluster.adapter, transports: ['websocket' as const] } : {}),
  });
  frameBroadcastsOnce(io.of('/').adapter);
  if (cluster.adapter) await streamHeard(io);
  const meetings = new Meetings({
    store,
    clock,
    log,
    flushWindowMs: config.flushWindowMs,
    unloadAfterMs: deps.unloadAfterMs ?? 30_000,
    port: (id) => meetingPort(io, id),
    afterLoad: (m, record, participants) => reconcileRows(store, m, record, participants),
    metrics,
    placement,
    refreshElsewhere: (meetingId) => bus?.everyone({ t: 'refresh', meetingId }),
  });
  metrics.countLoaded = () => meetings.size;
  const local = new Commands({
    store,
    meetings,
    config,
    clock,
    log,
    disconnect: (pid, reason) => disconnectParticipant(io, pid, reason),
  });
  // Every stored log read once in the background, so that a damaged meeting is reported at once.
  void store
    .scanLogs?.()
    .then((found) => {
      for (const { meetingId, error } of found) meetings.noteDamaged(meetingId, error);
    })
    .catch((e: unknown) => log.error({ err: (e as Error).message }, 'could not scan the stored logs'));
  const commands = routeCommands(local, placement, bus);
  const relays = attachLive(io, { store, meetings, commands, config, log, clock, metrics, placement, bus });
  let checking: NodeJS.Timeout | null = null;
  if (bus) {
    bus.handle({
      request: async (body, from) => {
        const req = body as CommandRequest | RelayRequest;
        if (req.t === 'command') return serveCommand(local, req);
        if (req.t === 'attach') return relays.attach(req, from);
        throw new Error('unknown request');
      },
      message: (body) => relays.message(body as RelayMessage),
      all: (body) => {
        const msg = body as { t?: string; meetingId?: unknown };
        if (msg.t === 'refresh' && typeof msg.meetingId === 'string') void meetings.refreshContext(msg.meetingId, true);
      },
    });
    bus.onReconnect(() => relays.resync());
    checking = setInterval(() => void relays.check().catch(() => undefined), 1000);
    checking.unref();
  }

  app.use('/api', apiRouter({ store, meetings, commands, config, clock, log }));
  if (config.clientDir) {
    const root = path.resolve(config.clientDir);
    // The page's files, compressed for whoever accepts it (brotli or gzip: the room page's
    // JavaScript shrinks to about a third, and a phone on a slow network waits for every byte). Only these files: an API answer can hold a personal link beside text the asker chose,
    // which compression would let a network observer guess at (BREACH).
    app.use(
      compression(),
      express.static(root, {
        dotfiles: 'deny',
        index: 'index.html',
        fallthrough: true,
        // A byte range of a compressed body is not what its Content-Range would say.
        acceptRanges: false,
        setHeaders(res, file) {
          // Built files carry their content's hash in their names: they never change, so a device
          // keeps them. The page itself and the service worker are asked for again each time.
          const built = path.relative(root, file).startsWith(`assets${path.sep}`);
          res.setHeader('Cache-Control', built ? 'public, max-age=31536000, immutable' : 'no-cache');
        },
      }),
    );
  }
  app.use((_req, res) => {
    res.status(404).type('text/plain').send('Not found');
  });

  let metricsServer: HttpServer | null = null;
  let closed: Promise<void> | null = null;
  return {
    http,
    io,
    store,
    meetings,
    metrics,
    listen: () =>
      new Promise((resolve, reject) => {
        http.once('error', reject);
        http.listen(config.port, config.host, () => {
          const { port } = http.address() as AddressInfo;
          const host = config.host.includes(':') ? `[${config.host}]` : config.host;
          resolve(`http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`);
        });
        if (config.metricsPort !== null) {
          metricsServer = createServer((req, res) => {
            if (req.url !== '/metrics') {
              res.writeHead(404).end();
              return;
            }
            void metrics.registry.metrics().then((text) => {
              res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text);
            });
          });
          metricsServer.listen(config.metricsPort, config.host);
        }
      }),
    close: () =>
      (closed ??= (async () => {
        metricsServer?.close();
        if (checking) clearInterval(checking);
        // Stop accepting; everyone connected here is told to reconnect (to another instance,
        // when there are several), then every meeting is flushed and handed over.
        io.local.emit('closing', CloseReason.restarting);
        await new Promise<void>((resolve) => {
          io.close(() => resolve());
        });
        await meetings.close();
        await cluster.close();
        await store.close();
      })()),
  };
}
