import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { closeHttp, createHttpServer, listenHttp, requestUrl, sendError, sendJson, ShoalError, silentLogger, type Logger } from '../core/index.ts';
import type { GatewayBroker } from '../runtime/index.ts';
import { buildOpenApi } from './openapi.ts';
import { ServiceRoutes } from './service-routes.ts';
import type { RateLimitConfig } from './proxy/config-schema.ts';
import { RateLimiter } from './proxy/rate-limiter.ts';

export interface GatewayOptions {
  id: string;
  broker: GatewayBroker;
  host?: string;
  port: number;
  logger?: Logger;
  /** Prometheus text for /metrics; absent means no /metrics route. */
  metrics?: { contentType: string; metricsText(): Promise<string> };
  maxBodyBytes?: number;
  /** Token-bucket limit per client address or API key header, as in `shoal lb`: 429 with Retry-After. */
  rateLimit?: RateLimitConfig;
  /**
   * The cluster's admin token. Built-in `$…` services answer only requests that present it;
   * without one configured the gateway serves user services alone.
   */
  adminToken?: string;
}

export interface Gateway {
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

/**
 * The cluster's HTTP entry: `/api/v{N}/{service}/{action}` becomes a call to a node chosen by
 * the balancer. Each answer names the node that served it (`x-shoal-node`) and carries the
 * trace it belongs to (`traceparent`), so a user can follow a request through the cluster.
 */
export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const logger = (options.logger ?? silentLogger).child({ component: 'gateway' });
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
  const broker = options.broker;

  const routes = new ServiceRoutes({ broker, logger, maxBodyBytes, ...(options.adminToken !== undefined ? { adminToken: options.adminToken } : {}) });

  const limiter = options.rateLimit ? new RateLimiter(options.rateLimit) : undefined;

  /** Refuses a request over its client's rate; health and metrics are never limited. */
  function overRate(req: IncomingMessage, res: ServerResponse, pathname: string): boolean {
    if (!limiter || pathname === '/healthz' || pathname === '/metrics') return false;
    const header = req.headers[limiter.config.header];
    const key = limiter.keyOf(typeof header === 'string' ? header : undefined, req.socket.remoteAddress ?? '');
    const waitMs = limiter.take(key, Date.now());
    if (waitMs === 0) return false;
    const retryAfter = String(Math.max(1, Math.ceil(waitMs / 1000)));
    sendError(res, new ShoalError('RATE_LIMITED', `rate limit exceeded; retry in ${retryAfter} s`, { retryAfterSeconds: Number(retryAfter) }), { 'retry-after': retryAfter });
    return true;
  }

  /** One access log line per request, written once its answer is out. */
  function logAccess(req: IncomingMessage, res: ServerResponse, startedMs: number): void {
    const traceparent = res.getHeader('traceparent');
    const node = res.getHeader('x-shoal-node');
    logger.info(
      {
        log: 'access',
        method: req.method,
        path: (req.url ?? '').slice(0, 500),
        status: res.statusCode,
        durationMs: Math.round((performance.now() - startedMs) * 1000) / 1000,
        ...(typeof node === 'string' ? { node } : {}),
        ...(typeof traceparent === 'string' ? { traceId: traceparent.split('-')[1] } : {}),
      },
      'request',
    );
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const startedMs = performance.now();
    res.once('finish', () => logAccess(req, res, startedMs));
    const url = requestUrl(req);
    if (overRate(req, res, url.pathname)) {
      req.resume();
      return;
    }
    if (await routes.handleApi(req, res, url)) return;
    if (req.method === 'GET' && url.pathname === '/openapi.json') {
      sendJson(res, 200, buildOpenApi(broker.registry.descriptors()));
      return;
    }
    if (await routes.handleRest(req, res, url)) return;
    if (req.method === 'GET' && url.pathname === '/healthz') {
      const nodes = broker.registry.liveMembers().filter((m) => m.role === 'node').length;
      sendJson(res, 200, { id: options.id, role: 'gateway', status: broker.health(), nodes });
      return;
    }
    if (req.method === 'GET' && url.pathname === '/metrics' && options.metrics) {
      const text = await options.metrics.metricsText();
      res.writeHead(200, { 'content-type': options.metrics.contentType });
      res.end(text);
      return;
    }
    throw new ShoalError('NOT_FOUND', `no route for ${req.method} ${url.pathname}`);
  }

  const server = createHttpServer(handle, {
    keepAliveTimeoutMs: 65_000,
    onInternalError: (err, req, errorId) => logger.error({ errorId, err: err instanceof Error ? err.message : String(err), stack: err instanceof Error ? err.stack : undefined, path: req.url?.slice(0, 200) }, 'request failed'),
  });
  const bound = await listenHttp(server, options.port, options.host ?? '127.0.0.1', 'gateway');
  return { url: bound.url, server, close: () => closeHttp(server) };
}
