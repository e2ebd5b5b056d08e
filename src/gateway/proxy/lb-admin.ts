/**
 * The balancer's admin listener: Prometheus text on /metrics and the backends' health on
 * /healthz. It is the balancer's own rather than the shared observability server because it
 * faces the same clients as the listeners do, so it gets their discipline: a header timeout
 * (a client that trickles its head is answered 408 and cut, not held), and malformed input
 * answered with a JSON error on a connection that then closes.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { closeHttp, listenHttp, requestUrl, sendError, sendJson, ShoalError } from '../../core/index.ts';
import { serveMetrics, type Metrics } from '../../observe/index.ts';
import { LINGER_MS } from './client-connection.ts';
import { ProxyError, rawErrorResponse } from './proxy-errors.ts';

export interface LbAdminOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Time for a client to send its request head; 408 after it. */
  headersTimeout: number;
  metrics: Metrics;
  /** The /healthz document. */
  health: () => object | Promise<object>;
}

export interface LbAdmin {
  readonly server: Server;
  /** e.g. http://127.0.0.1:9464 */
  readonly url: string;
  close(): Promise<void>;
}

async function route(options: LbAdminOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = requestUrl(req).pathname;
  if (req.method === 'GET' && path === '/metrics') return serveMetrics(options.metrics, req, res);
  if (req.method === 'GET' && path === '/healthz') {
    sendJson(res, 200, await options.health());
    return;
  }
  sendError(res, new ShoalError('NOT_FOUND', `no route for ${req.method ?? 'GET'} ${path}`));
}

/** The answer to input node:http's parser refused (or a head that came too slowly). */
function clientErrorAnswer(err: NodeJS.ErrnoException): ProxyError {
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') return new ProxyError(408, 'REQUEST_TIMEOUT', 'the request was not received in time');
  if (err.code === 'HPE_HEADER_OVERFLOW') return new ProxyError(431, 'HEADERS_TOO_LARGE', 'request headers are too large');
  return new ProxyError(400, 'BAD_REQUEST', 'malformed request');
}

function onClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || !socket.writable || socket.writableEnded) {
    socket.destroy();
    return;
  }
  const error = clientErrorAnswer(err);
  // As on the listeners: the answer goes out, input is dropped, and the socket goes after a linger.
  socket.end(rawErrorResponse(error.status, error.status === 408 ? 'Request Timeout' : error.status === 431 ? 'Request Header Fields Too Large' : 'Bad Request', error));
  socket.resume();
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
}

/** Starts the admin listener and resolves once it is listening. */
export async function startLbAdmin(options: LbAdminOptions): Promise<LbAdmin> {
  const headersTimeout = options.headersTimeout;
  const server = createServer({
    headersTimeout,
    // node:http wants the whole request's timeout no shorter than the head's.
    requestTimeout: Math.max(30_000, headersTimeout),
    // node:http checks these timeouts on an interval (30 s by default): a quarter of the header timeout keeps the 408 prompt.
    connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(headersTimeout / 4))),
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    route(options, req, res).catch((err: unknown) => {
      if (!res.headersSent) sendError(res, new ShoalError('INTERNAL', `admin request failed: ${err instanceof Error ? err.message : String(err)}`));
      else res.destroy();
    });
  });
  server.on('clientError', onClientError);
  const bound = await listenHttp(server, options.port, options.host, 'lb admin');
  return { server, url: bound.url, close: () => closeHttp(server) };
}
