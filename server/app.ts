/**
 * The composition root: builds every part from its dependencies and returns the HTTP server
 * and `close()`. No module-level state, so tests start as many servers as they like.
 */
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import express from 'express';
import helmet from 'helmet';
import { Server } from 'socket.io';
import { LIMITS } from '../shared/limits.js';
import type { Config } from './config.js';
import { consoleLog, systemClock, type Clock, type Log } from './context.js';
import { apiRouter } from './http/api.js';
import { attachLive, participantRoom, meetingPort, type LiveServer } from './live/socket.js';
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
  /** Listen on config.port (0 = any free port); resolves with the bound URL. */
  listen(): Promise<string>;
  /** Stop accepting, flush every pending write, close the store. */
  close(): Promise<void>;
}

export async function createApp(deps: AppDeps): Promise<App> {
  const { config } = deps;
  const clock = deps.clock ?? systemClock;
  const log = deps.log ?? consoleLog;
  const store = deps.store ?? (await openStore(config));

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

  const http = createServer(app);
  const io: LiveServer = new Server(http, {
    maxHttpBufferSize: LIMITS.packetBytes,
    serveClient: false,
    // No connection-state recovery: every reconnection passes the handshake's checks again.
  });
  const meetings = new Meetings({
    store,
    clock,
    log,
    flushWindowMs: config.flushWindowMs,
    unloadAfterMs: deps.unloadAfterMs ?? 30_000,
    port: (id) => meetingPort(io, id),
  });
  attachLive(io, { store, meetings, config, log, clock });

  app.use(
    '/api',
    apiRouter({
      store,
      meetings,
      config,
      clock,
      log,
      disconnect: (pid) => io.in(participantRoom(pid)).disconnectSockets(true),
    }),
  );
  if (config.clientDir) {
    const root = path.resolve(config.clientDir);
    app.use(express.static(root, { dotfiles: 'deny', index: 'index.html', fallthrough: true }));
  }
  app.use((_req, res) => {
    res.status(404).type('text/plain').send('Not found');
  });

  let closed: Promise<void> | null = null;
  return {
    http,
    io,
    store,
    meetings,
    listen: () =>
      new Promise((resolve, reject) => {
        http.once('error', reject);
        http.listen(config.port, config.host, () => {
          const { port } = http.address() as AddressInfo;
          const host = config.host.includes(':') ? `[${config.host}]` : config.host;
          resolve(`http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`);
        });
      }),
    close: () =>
      (closed ??= (async () => {
        await new Promise<void>((resolve) => {
          io.close(() => resolve());
        });
        await meetings.close();
        await store.close();
      })()),
  };
}
