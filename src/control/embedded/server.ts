/**
 * The embedded coordinator server: a small HTTP/1.1 JSON API over CoordinatorStore, with
 * signed requests, a lease sweeper and long-polled watches. It is what `shoal up` runs in the
 * control process so a cluster needs no etcd on one machine.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { closeHttp, concealUnexpected, createHttpServer, errorIdOf, listenHttp, parseJsonBody, readBody, requestUrl, sendError, sendJson, ShoalError, silentLogger, type Logger } from '../../core/index.ts';
import { verifyRequest } from './auth.ts';
import {
  MAX_BODY_BYTES,
  deleteRequest,
  describeIssues,
  getRequest,
  grantRequest,
  leaseRequest,
  listRequest,
  putRequest,
  watchQuery,
} from './protocol.ts';
import type { StatusResponse, WatchResponse } from './protocol.ts';
import { CoordinatorStore } from './store.ts';
import { WatchHub } from './watch-hub.ts';
import type { z } from 'zod';

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

function parseBody<T extends z.ZodType>(schema: T, text: string): z.output<T> {
  // Also refuses nesting past MAX_JSON_DEPTH, which the store's JSON columns would recurse over.
  const json = text.trim() === '' ? undefined : parseJsonBody(text);
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new ShoalError('BAD_REQUEST', 'body must be a JSON object');
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new ShoalError('BAD_REQUEST', `invalid request: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

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

  function handleWatch(req: IncomingMessage, res: ServerResponse, search: URLSearchParams): void {
    const parsed = watchQuery.safeParse(Object.fromEntries(search));
    if (!parsed.success) throw new ShoalError('BAD_REQUEST', `invalid watch query: ${describeIssues(parsed.error)}`);
    const { prefix, epoch } = parsed.data;
    const after = parsed.data.after ?? store.revision;
    const waitMs = Math.min(parsed.data.waitMs ?? maxWaitMs, maxWaitMs);
    // Headers go out at once so the client knows it is connected while the poll is held.
    res.writeHead(200, { 'content-type': 'application/json' });
    res.flushHeaders();
    const cancel = watchHub.wait(prefix, after, epoch, waitMs, (batch) => {
      const body: WatchResponse = batch.reset
        ? { epoch: watchHub.epoch, reset: true, revision: batch.revision }
        : { epoch: watchHub.epoch, events: batch.events, revision: batch.revision };
      res.end(JSON.stringify(body));
    });
    res.on('close', cancel);
  }

  function route(method: string, pathname: string, body: string): unknown {
    const now = Date.now();
    switch (`${method} ${pathname}`) {
      case 'GET /v1/status': {
        const status: StatusResponse = {
          epoch: watchHub.epoch,
          revision: store.revision,
          startRevision: watchHub.startRevision,
          ...store.counts(),
          uptimeMs: now - startedAt,
        };
        return status;
      }
      case 'POST /v1/kv/get': {
        const { key } = parseBody(getRequest, body);
        return { entry: store.get(key) ?? null, revision: store.revision };
      }
      case 'POST /v1/kv/put': {
        const request = parseBody(putRequest, body);
        if (!('value' in request) || request.value === undefined) throw new ShoalError('BAD_REQUEST', 'invalid request: value: required');
        const entry = store.put(request.key, request.value, { expectVersion: request.expectVersion, lease: request.lease }, now);
        return { entry, revision: store.revision };
      }
      case 'POST /v1/kv/delete': {
        const { key, expectVersion } = parseBody(deleteRequest, body);
        return { deleted: store.delete(key, { expectVersion }), revision: store.revision };
      }
      case 'POST /v1/kv/list': {
        const { prefix } = parseBody(listRequest, body);
        return { entries: store.list(prefix), revision: store.revision };
      }
      case 'POST /v1/lease/grant': {
        const { ttlMs } = parseBody(grantRequest, body);
        return { lease: store.grantLease(ttlMs, now), revision: store.revision };
      }
      case 'POST /v1/lease/keepalive': {
        const { id } = parseBody(leaseRequest, body);
        return { lease: store.keepAlive(id, now), revision: store.revision };
      }
      case 'POST /v1/lease/revoke': {
        const { id } = parseBody(leaseRequest, body);
        if (!store.revokeLease(id)) throw new ShoalError('NOT_FOUND', `lease ${id} does not exist or has expired`, { lease: id });
        return { revoked: true, revision: store.revision };
      }
      default:
        throw new ShoalError('NOT_FOUND', `no route ${method} ${pathname}`);
    }
  }

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
        handleWatch(req, res, url.searchParams);
        return;
      }
      sendJson(res, 200, route(method, url.pathname, body));
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
