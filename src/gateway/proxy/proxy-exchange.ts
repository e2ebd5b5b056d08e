/**
 * Forwarding one HTTP request to an upstream server and its response back, with retries on a
 * different server, per-try and total timeouts, and the bookkeeping health and balancing need.
 *
 * This is the hot path. Each request gets one ProxyExchange; event handlers are module-level
 * functions that find their exchange through a symbol-keyed property on the emitter, and
 * timers get it as an argument, so a request allocates no closures. Bodies are piped, never
 * buffered.
 */
import { request as httpRequest, type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Backend } from './backend-pool.ts';
import { clientAddress, clientResponseHeaders, upstreamRequestHeaders, type ForwardedRequest } from './forward-headers.ts';
import type { ListenerContext } from './listener-context.ts';
import { ProxyError, sendProxyError } from './proxy-errors.ts';
import type { Upstream } from './upstream.ts';

const exchangeKey = Symbol('shoal.lb.exchange');
type Tagged<T> = T & { [exchangeKey]?: ProxyExchange };

/** Methods a retry cannot harm: repeating them has the effect of sending them once. */
const idempotentMethods = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);
const connectErrors = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ENOTFOUND']);

const WAITING = 0;
const STREAMING = 1;
const FINISHED = 2;

class ProxyExchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly listener: ListenerContext;
  readonly backend: Backend;
  readonly clientIp: string;
  readonly startMs: number;
  readonly deadlineMs: number;
  forwarded: ForwardedRequest | undefined;
  hashKey: string | undefined;
  hasBody = false;
  chunkedBody = false;
  bodyBytes = 0;
  tries = 0;
  tried: Set<string> | undefined;
  upstream: Upstream | undefined;
  proxyReq: Tagged<ClientRequest> | undefined;
  upstreamRes: Tagged<IncomingMessage> | undefined;
  tryStartMs = 0;
  timer: NodeJS.Timeout | undefined;
  phase = WAITING;
  bytes = 0;
  upstreamId: string | undefined;

  constructor(req: IncomingMessage, res: ServerResponse, listener: ListenerContext, clientIp: string, now: number) {
    this.req = req;
    this.res = res;
    this.listener = listener;
    this.backend = listener.backend;
    this.clientIp = clientIp;
    this.startMs = now;
    this.deadlineMs = now + this.backend.config.timeouts.total;
  }
}

/** Handles one request arriving at a listener. */
export function handleProxyRequest(listener: ListenerContext, req: IncomingMessage, res: ServerResponse): void {
  const now = Date.now();
  const clientIp = clientAddress(req);
  const exchange = new ProxyExchange(req, res, listener, clientIp, now);
  (res as Tagged<ServerResponse>)[exchangeKey] = exchange;
  res.on('close', onClientClose);

  const limiter = listener.rateLimiter;
  if (limiter !== undefined) {
    const waitMs = limiter.take(limiter.keyOf(req, clientIp), now);
    if (waitMs > 0) {
      const seconds = Math.max(1, Math.ceil(waitMs / 1000));
      listener.metrics.refused(listener.name, 429);
      finishWithError(exchange, new ProxyError(429, 'RATE_LIMITED', 'too many requests; slow down', { retryAfterSeconds: seconds }, { 'retry-after': String(seconds) }));
      return;
    }
  }

  const contentLength = req.headers['content-length'];
  if (contentLength !== undefined) {
    const declared = Number(contentLength);
    if (listener.maxBodyBytes > 0 && declared > listener.maxBodyBytes) {
      listener.metrics.refused(listener.name, 413);
      finishWithError(exchange, new ProxyError(413, 'PAYLOAD_TOO_LARGE', `request body of ${declared} bytes exceeds the limit of ${listener.maxBodyBytes}`, { limit: listener.maxBodyBytes }));
      return;
    }
    exchange.hasBody = declared > 0;
  } else if (req.headers['transfer-encoding'] !== undefined) {
    exchange.hasBody = true;
    exchange.chunkedBody = true;
  }

  const backend = exchange.backend;
  exchange.forwarded = upstreamRequestHeaders(req, clientIp, listener.proto, false);
  if (backend.hashes) exchange.hashKey = backend.hashKey(req, clientIp);
  backend.retryBudget.recordRequest(now);
  const upstream = backend.pick(exchange.hashKey, undefined, now);
  if (upstream === undefined) {
    listener.metrics.refused(listener.name, 503);
    finishWithError(exchange, noUpstreamError(backend));
    return;
  }
  send(exchange, upstream, now);
}

function noUpstreamError(backend: Backend): ProxyError {
  if (backend.eligible.length === 0) {
    return new ProxyError(503, 'UNAVAILABLE', `no healthy upstream server in backend "${backend.name}"`, { backend: backend.name });
  }
  return new ProxyError(503, 'CIRCUIT_OPEN', `every upstream server of backend "${backend.name}" is refusing requests (circuit open or at its concurrency limit)`, { backend: backend.name });
}

function send(exchange: ProxyExchange, upstream: Upstream, now: number): void {
  const backend = exchange.backend;
  const req = exchange.req;
  exchange.tries++;
  exchange.upstream = upstream;
  exchange.upstreamId = upstream.id;
  upstream.begin();
  backend.strategy.onStart?.(upstream.id);
  exchange.tryStartMs = performance.now();
  const proxyReq: Tagged<ClientRequest> = httpRequest({
    agent: upstream.agent,
    host: upstream.host,
    port: upstream.port,
    method: req.method,
    path: req.url,
    headers: exchange.forwarded!.headers,
  });
  proxyReq[exchangeKey] = exchange;
  exchange.proxyReq = proxyReq;
  proxyReq.on('response', onUpstreamResponse);
  proxyReq.on('error', onUpstreamError);
  exchange.timer = setTimeout(onTryTimeout, Math.max(1, Math.min(backend.config.timeouts.try, exchange.deadlineMs - now)), exchange);
  if (!exchange.hasBody) proxyReq.end();
  else proxyReq.on('socket', onUpstreamSocket);
}

/**
 * The body starts flowing only once the upstream connection is up: if connecting fails, none
 * of it has been read, so the request can still be retried elsewhere.
 */
function onUpstreamSocket(this: Tagged<ClientRequest>, socket: Socket): void {
  if (socket.connecting) socket.once('connect', () => startBody(this));
  else startBody(this);
}

function startBody(proxyReq: Tagged<ClientRequest>): void {
  const exchange = proxyReq[exchangeKey];
  if (exchange === undefined || exchange.proxyReq !== proxyReq || exchange.phase === FINISHED) return;
  const req = exchange.req as Tagged<IncomingMessage>;
  if (exchange.chunkedBody && exchange.listener.maxBodyBytes > 0 && req[exchangeKey] === undefined) {
    req[exchangeKey] = exchange;
    req.on('data', onRequestData);
  }
  req.pipe(proxyReq);
}

/** Counts a body of unknown length against the limit while it streams. */
function onRequestData(this: Tagged<IncomingMessage>, chunk: Buffer): void {
  const exchange = this[exchangeKey]!;
  exchange.bodyBytes += chunk.length;
  const limit = exchange.listener.maxBodyBytes;
  if (exchange.bodyBytes <= limit || exchange.phase === FINISHED) return;
  this.off('data', onRequestData);
  const proxyReq = exchange.proxyReq;
  if (proxyReq) {
    this.unpipe(proxyReq);
    exchange.proxyReq = undefined;
    proxyReq.destroy();
  }
  endTry(exchange, false);
  exchange.listener.metrics.refused(exchange.listener.name, 413);
  if (exchange.phase === WAITING) {
    finishWithError(exchange, new ProxyError(413, 'PAYLOAD_TOO_LARGE', `request body exceeds the limit of ${limit} bytes`, { limit }));
  } else {
    exchange.res.destroy();
  }
}

function onUpstreamResponse(this: Tagged<ClientRequest>, upstreamRes: Tagged<IncomingMessage>): void {
  const exchange = this[exchangeKey];
  if (exchange === undefined || exchange.proxyReq !== this || exchange.phase !== WAITING) {
    upstreamRes.resume();
    return;
  }
  clearTimeout(exchange.timer);
  exchange.timer = undefined;
  const status = upstreamRes.statusCode ?? 502;
  const upstream = exchange.upstream!;
  exchange.backend.recordStatus(upstream, status, Date.now());
  upstream.metrics.response(status, (performance.now() - exchange.tryStartMs) / 1000);
  exchange.phase = STREAMING;
  exchange.upstreamRes = upstreamRes;
  upstreamRes[exchangeKey] = exchange;
  upstreamRes.on('error', onUpstreamResponseError);
  const listener = exchange.listener;
  const res = exchange.res;
  res.writeHead(status, upstreamRes.statusMessage, clientResponseHeaders(upstreamRes.rawHeaders, listener.responseHeaders));
  if (listener.closing) res.shouldKeepAlive = false;
  if (listener.accessLog !== undefined) {
    const length = upstreamRes.headers['content-length'];
    if (length !== undefined) exchange.bytes = Number(length);
    else upstreamRes.on('data', onResponseData);
  }
  upstreamRes.pipe(res);
}

function onResponseData(this: Tagged<IncomingMessage>, chunk: Buffer): void {
  this[exchangeKey]!.bytes += chunk.length;
}

/** The upstream failed mid-response: the client's response cannot be completed either. */
function onUpstreamResponseError(this: Tagged<IncomingMessage>): void {
  const exchange = this[exchangeKey];
  if (exchange !== undefined && exchange.upstream !== undefined) exchange.backend.recordFailure(exchange.upstream, 'reset', Date.now());
  exchange?.res.destroy();
}

function onUpstreamError(this: Tagged<ClientRequest>, err: NodeJS.ErrnoException): void {
  const exchange = this[exchangeKey];
  if (exchange === undefined || exchange.proxyReq !== this) return;
  exchange.proxyReq = undefined;
  clearTimeout(exchange.timer);
  exchange.timer = undefined;
  if (exchange.phase !== WAITING) {
    exchange.res.destroy();
    return;
  }
  const upstream = exchange.upstream!;
  const now = Date.now();
  const kind = err.code !== undefined && connectErrors.has(err.code) ? 'connect' : 'reset';
  endTry(exchange, false);
  exchange.backend.recordFailure(upstream, kind, now);
  retryOrFail(exchange, upstream, now, new ProxyError(502, 'BAD_GATEWAY', `upstream server ${upstream.id} failed: ${err.code ?? err.message}`, { upstream: upstream.id, reason: err.code ?? err.message }));
}

function onTryTimeout(exchange: ProxyExchange): void {
  exchange.timer = undefined;
  const proxyReq = exchange.proxyReq;
  if (proxyReq === undefined || exchange.phase !== WAITING) return;
  exchange.proxyReq = undefined;
  if (exchange.hasBody) exchange.req.unpipe(proxyReq);
  proxyReq.destroy();
  const upstream = exchange.upstream!;
  const now = Date.now();
  endTry(exchange, false);
  exchange.backend.recordFailure(upstream, 'timeout', now);
  const budgetLeft = now < exchange.deadlineMs;
  const error = budgetLeft
    ? new ProxyError(504, 'TIMEOUT', `upstream server ${upstream.id} did not answer within ${exchange.backend.config.timeouts.try}ms`, { upstream: upstream.id })
    : new ProxyError(504, 'TIMEOUT', `no upstream server answered within ${exchange.backend.config.timeouts.total}ms`, { upstream: upstream.id, tries: exchange.tries });
  retryOrFail(exchange, upstream, now, error);
}

/**
 * Tries another server when that is safe: an idempotent method, a body not yet read (nothing
 * was consumed that could not be sent again), tries and time left, and the retry budget.
 */
function retryOrFail(exchange: ProxyExchange, failed: Upstream, now: number, error: ProxyError): void {
  const backend = exchange.backend;
  const req = exchange.req;
  const retryable =
    idempotentMethods.has(req.method ?? '') &&
    (!exchange.hasBody || !req.readableDidRead) &&
    exchange.tries <= backend.config.retries.max &&
    now < exchange.deadlineMs &&
    !exchange.res.destroyed;
  if (retryable) {
    const tried = (exchange.tried ??= new Set());
    tried.add(failed.id);
    if (backend.eligible.length > tried.size && backend.retryBudget.tryRetry(now)) {
      const next = backend.pick(exchange.hashKey, tried, now);
      if (next !== undefined) {
        send(exchange, next, now);
        return;
      }
    }
  }
  finishWithError(exchange, error);
}

/** Ends the current try's accounting with its upstream and strategy. */
function endTry(exchange: ProxyExchange, ok: boolean): void {
  const upstream = exchange.upstream;
  if (upstream === undefined) return;
  exchange.upstream = undefined;
  upstream.end();
  exchange.backend.strategy.onEnd?.(upstream.id, { latencyMs: performance.now() - exchange.tryStartMs, ok });
}

function finishWithError(exchange: ProxyExchange, error: ProxyError): void {
  const res = exchange.res;
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  exchange.phase = STREAMING;
  // Unless the request body was read to its end, close: the rest of it is of no use.
  const close = exchange.listener.closing || (exchange.hasBody && !exchange.req.complete) || error.status === 413;
  exchange.bytes = sendProxyError(res, error, exchange.listener.responseHeaders, close);
}

/** The client's response is done (or the client went away): release everything still held. */
function onClientClose(this: Tagged<ServerResponse>): void {
  const exchange = this[exchangeKey]!;
  const wasWaiting = exchange.phase === WAITING;
  exchange.phase = FINISHED;
  if (exchange.timer !== undefined) clearTimeout(exchange.timer);
  const proxyReq = exchange.proxyReq;
  if (proxyReq !== undefined) {
    exchange.proxyReq = undefined;
    proxyReq.destroy();
  }
  const upstreamRes = exchange.upstreamRes;
  if (upstreamRes !== undefined && !upstreamRes.complete) upstreamRes.destroy();
  endTry(exchange, !wasWaiting && exchange.res.statusCode < 500);
  const accessLog = exchange.listener.accessLog;
  if (accessLog !== undefined) {
    const req = exchange.req;
    accessLog.info({
      method: req.method,
      path: req.url,
      // 499 as nginx logs it: the client closed before an answer was sent.
      status: this.headersSent ? this.statusCode : 499,
      upstream: exchange.upstreamId ?? null,
      durationMs: Date.now() - exchange.startMs,
      bytes: exchange.bytes,
      clientIp: exchange.clientIp,
      traceId: exchange.forwarded?.traceId ?? null,
      tries: exchange.tries,
    });
  }
}
