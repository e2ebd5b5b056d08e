import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { concealedCause, concealUnexpected, createHttpServer, errorIdOf, hasAdminToken, isBuiltinService, isClientAbort, listenHttp, closeHttp, parseJsonBody, readBody, requestUrl, sendError, sendJson, ShoalError, silentLogger, type CallMeta, type CallReceipt, type Logger } from '../core/index.ts';
import type { ActionDescriptor } from '../control/index.ts';
import type { GatewayBroker } from '../runtime/index.ts';
import { paramsFromQuery, parseApiPath, type ApiTarget } from './api-route.ts';
import { buildOpenApi } from './openapi.ts';
import { RestRouteTable } from './rest-routes.ts';
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

const metaSetter = {
  set(carrier: CallMeta, key: string, value: string) {
    if (key === 'traceparent') carrier.traceparent = value;
    else if (key === 'tracestate') carrier.tracestate = value;
  },
};

const headerGetter = {
  keys: (carrier: IncomingMessage['headers']) => Object.keys(carrier),
  get: (carrier: IncomingMessage['headers'], key: string) => carrier[key],
};

/**
 * The cluster's HTTP entry: `/api/v{N}/{service}/{action}` becomes a call to a node chosen by
 * the balancer. Each answer names the node that served it (`x-shoal-node`) and carries the
 * trace it belongs to (`traceparent`), so a user can follow a request through the cluster.
 */
export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const logger = (options.logger ?? silentLogger).child({ component: 'gateway' });
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
  const tracer = trace.getTracer('shoal-gateway');
  const broker = options.broker;

  const restRoutes = new RestRouteTable(logger);
  restRoutes.update(broker.registry.descriptors());
  broker.registry.onChange(() => restRoutes.update(broker.registry.descriptors()));

  function actionOf(target: ApiTarget): ActionDescriptor | undefined {
    const descriptor = broker.registry.endpoints(target.service, target.version)[0]?.descriptor;
    return descriptor?.actions.find((a) => a.name === target.action);
  }

  function paramsSchemaOf(target: ApiTarget): unknown {
    return actionOf(target)?.paramsSchema;
  }

  /** Params from the query (GET, DELETE) or the JSON body (other methods), plus path params. */
  async function readParams(req: IncomingMessage, url: URL, target: ApiTarget, pathParams?: Record<string, string>): Promise<unknown> {
    let params: unknown;
    if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'DELETE') {
      params = paramsFromQuery(url.searchParams, paramsSchemaOf(target));
    } else {
      params = parseJsonBody(await readBody(req, maxBodyBytes));
    }
    if (!pathParams) return params;
    if (params === null || typeof params !== 'object' || Array.isArray(params)) {
      throw new ShoalError('BAD_REQUEST', 'request body must be a JSON object on this route');
    }
    return { ...(params as Record<string, unknown>), ...pathParams };
  }

  /** Built-in services are the cluster's own: hidden without an admin token, refused without the right one. */
  function refuseBuiltin(req: IncomingMessage, target: ApiTarget): void {
    if (!isBuiltinService(target.service) || hasAdminToken(options.adminToken, req.headers)) return;
    req.resume();
    if (!options.adminToken) throw new ShoalError('NOT_FOUND', `service ${target.service} is not served by this gateway`);
    throw new ShoalError('UNAUTHORIZED', `${target.service} is a built-in service: it needs the cluster's admin token (Authorization: Bearer <token>)`);
  }

  /** Calls the target inside a server span; the answer names the node and the trace. */
  async function callTarget(req: IncomingMessage, res: ServerResponse, url: URL, target: ApiTarget, route: string, pathParams?: Record<string, string>): Promise<void> {
    const parent = propagation.extract(ROOT_CONTEXT, req.headers, headerGetter);
    const span = tracer.startSpan(`${req.method} ${route}`, { kind: SpanKind.SERVER }, parent);
    const meta: CallMeta = { requestId: String(req.headers['x-request-id'] ?? randomUUID()) };
    propagation.inject(trace.setSpan(context.active(), span), meta, metaSetter);
    const headers: Record<string, string> = meta.traceparent ? { traceparent: meta.traceparent } : {};
    const receipt: CallReceipt = {};
    try {
      refuseBuiltin(req, target);
      const params = await readParams(req, url, target, pathParams);
      const { result } = await broker.callWithOrigin(target.service, target.version, target.action, params, { meta }, receipt);
      if (receipt.servedBy) headers['x-shoal-node'] = receipt.servedBy;
      sendJson(res, 200, result, headers);
    } catch (err) {
      if (receipt.servedBy) headers['x-shoal-node'] = receipt.servedBy;
      const error = concealUnexpected(err);
      span.setStatus({ code: SpanStatusCode.ERROR, message: error.code });
      if (isClientAbort(err)) logger.info({ path: url.pathname }, 'client aborted the request mid-body');
      else if (error.code === 'INTERNAL') logger.error({ errorId: errorIdOf(error), err: concealedCause(error)?.message ?? error.message, stack: concealedCause(error)?.stack, path: url.pathname }, 'call failed');
      sendError(res, error, headers);
    } finally {
      span.end();
    }
  }

  /** GET and POST for an idempotent action (or one not known here yet), POST alone for the rest. */
  function allowedMethods(target: ApiTarget): string {
    return actionOf(target)?.idempotent === false ? 'POST' : 'GET, POST';
  }

  async function handleApi(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    const target = parseApiPath(url.pathname);
    if (!target) return false;
    if (req.method !== 'GET' && req.method !== 'POST') {
      req.resume();
      sendError(res, new ShoalError('METHOD_NOT_ALLOWED', `method ${req.method} is not allowed on API routes (use GET or POST)`), { allow: allowedMethods(target) });
      return true;
    }
    if (req.method === 'GET' && actionOf(target)?.idempotent === false) {
      // A GET may be prefetched, cached, retried or followed from a link: only safe to repeat actions answer it.
      req.resume();
      sendError(res, new ShoalError('METHOD_NOT_ALLOWED', `${target.service}.${target.action} changes state: call it with POST (only idempotent actions answer GET)`), { allow: 'POST' });
      return true;
    }
    await callTarget(req, res, url, target, `/api/v${target.version}/${target.service}/${target.action}`);
    return true;
  }

  async function handleRest(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    const match = restRoutes.match(req.method ?? 'GET', url.pathname);
    if (!match) {
      const allowed = restRoutes.methodsFor(url.pathname);
      if (allowed.length === 0) return false;
      req.resume();
      sendError(res, new ShoalError('METHOD_NOT_ALLOWED', `method ${req.method} is not allowed on ${url.pathname}`), { allow: allowed.join(', ') });
      return true;
    }
    const { route, pathParams } = match;
    await callTarget(req, res, url, { service: route.service, version: route.version, action: route.action }, route.path, pathParams);
    return true;
  }

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
    if (await handleApi(req, res, url)) return;
    if (req.method === 'GET' && url.pathname === '/openapi.json') {
      sendJson(res, 200, buildOpenApi(broker.registry.descriptors()));
      return;
    }
    if (await handleRest(req, res, url)) return;
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
