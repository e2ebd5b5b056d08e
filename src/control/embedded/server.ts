/**
 * The embedded coordinator server: a small HTTP/1.1 JSON API over CoordinatorStore, with
 * signed requests, a lease sweeper and long-polled watches. It is what `shoal up` runs in the
 * control process so a cluster needs no etcd on one machine.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { closeHttp, concealUnexpected, createHttpServer, errorIdOf, listenHttp, readBody, requestUrl, sendError, sendJson, ShoalError, silentLogger, type Logger } from '../../core/index.ts';
import { verifyRequest } from './auth.ts';
import { CoordinatorRoutes } from './coordinator-routes.ts';
import { MAX_BODY_BYTES } from './protocol.ts';
import { CoordinatorStore } from './store.ts';
import { WatchHub } from './watch-hub.ts';

export interface CoordinatorServerOptions {
  /** Directory for coordinator.db; created if missing. */
  dataDir: string;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Shared with every client; used to sign requests, never sent. */
  secret: string;
  logger?: Logger;
  /** How often expired leases are collected (default 100 ms). */
  sweepIntervalMs?: number;
  /** Changes kept in memory for watches to resume from (default 10 000). */
  watchHistory?: number;
  /** Longest a watch long-poll is held open (default 25 s). */
  maxWatchWaitMs?: number;
  /**
   * Unsigned routes outside /v1/ (health, metrics) served on the same port; answers true when
   * it handled the request.
   */
  extraRoutes?: (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;
}

export interface CoordinatorServer {
  address: { host: string; port: number };
  url: string;
  close(): Promise<void>;
}

const DEFAULT_WATCH_WAIT_MS = 25_000;


export async function startCoordinatorServer(options: CoordinatorServerOptions): Promise<CoordinatorServer> {
  if (!options.secret) throw new ShoalError('BAD_REQUEST', 'coordinator server needs a non-empty secret');
  const logger = (options.logger ?? silentLogger).child({ component: 'coordinator' });
  const host = options.host ?? '127.0.0.1';
  const maxWaitMs = options.maxWatchWaitMs ?? DEFAULT_WATCH_WAIT_MS;
  mkdirSync(options.dataDir, { recursive: true });

  // The hub needs the store's revision and the store feeds the hub, so one is wired in after.
  const wiring: { hub?: WatchHub } = {};
  const store = new CoordinatorStore(join(options.dataDir, 'coordinator.db'), (events) => wiring.hub?.append(events));
  const startedAt = Date.now();
  store.graceLeases(startedAt);
  const watchHub = new WatchHub({ epoch: randomUUID(), capacity: options.watchHistory ?? 10_000, currentRevision: () => store.revision });
  wiring.hub = watchHub;

  const sweeper = setInterval(() => {
    try {
      const expired = store.expireDue(Date.now());
      if (expired > 0) logger.debug({ expired }, 'leases expired');
    } catch (err) {
      logger.error({ err }, 'lease sweep failed');
    }
  }, options.sweepIntervalMs ?? 100);

  const routes = new CoordinatorRoutes(store, watchHub, maxWaitMs, startedAt);

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const target = req.url ?? '/';
    try {
      const url = requestUrl(req);
      if (options.extraRoutes && !url.pathname.startsWith('/v1/') && (await options.extraRoutes(req, res))) return;
      const body = (await readBody(req, MAX_BODY_BYTES)).toString('utf8');
      const denied = verifyRequest(options.secret, method, target, req.headers, body);
      if (denied) throw new ShoalError('UNAUTHORIZED', denied);
      if (method === 'GET' && url.pathname === '/v1/watch') {
        routes.watch(res, url.searchParams);
        return;
      }
      sendJson(res, 200, routes.answer(method, url.pathname, body));
    } catch (err) {
      const error = concealUnexpected(err);
      const path = target.slice(0, 200);
      if (error.code === 'INTERNAL') logger.error({ errorId: errorIdOf(error), err: err instanceof Error ? err.message : String(err), stack: err instanceof Error ? err.stack : undefined, method, path }, 'coordinator request failed');
      else logger.debug({ code: error.code, message: error.message, path }, 'coordinator request rejected');
      if (!res.writableEnded && !res.destroyed) sendError(res, error);
    }
  }

  // Idle sockets live longer than the client agent keeps them, so the client is the side that closes them.
  const server = createHttpServer(handle, { keepAliveTimeoutMs: 65_000 });

  let bound;
  try {
    bound = await listenHttp(server, options.port ?? 0, host, 'control');
  } catch (err) {
    clearInterval(sweeper);
    store.close();
    throw err;
  }
  server.on('error', (err) => logger.error({ err }, 'coordinator server error'));
  const { port } = bound;
  logger.info({ host, port, revision: store.revision, epoch: watchHub.epoch }, 'coordinator listening');

  let closing: Promise<void> | undefined;
  return {
    address: { host, port },
    url: bound.url,
    close() {
      closing ??= new Promise<void>((resolve) => {
        clearInterval(sweeper);
        watchHub.close();
        void closeHttp(server, { dropActive: true }).then(() => {
          store.close();
          resolve();
        });
      });
      return closing;
    },
  };
}
