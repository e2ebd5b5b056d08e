/**
 * The small HTTP surface every process exposes for operations: Prometheus scraping on
 * /metrics and a JSON health document on /healthz.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { closeHttp, createHttpServer, listenHttp, requestUrl, sendError, sendJson, ShoalError } from '../core/index.ts';
import type { Metrics } from './metrics.ts';

/** Answers a request with the registry's Prometheus text; usable from any node:http handler. */
export async function serveMetrics(metrics: Metrics, _req: IncomingMessage, res: ServerResponse): Promise<void> {
  let text: string;
  try {
    text = await metrics.metricsText();
  } catch (err) {
    sendError(res, new ShoalError('INTERNAL', `metrics collection failed: ${err instanceof Error ? err.message : String(err)}`));
    return;
  }
  res.writeHead(200, { 'content-type': metrics.contentType, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export interface ObservabilityServerOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 picks a free port. */
  port: number;
  metrics: Metrics;
  /** The /healthz document. */
  health: () => object | Promise<object>;
}

export interface ObservabilityServer {
  readonly server: Server;
  readonly host: string;
  readonly port: number;
  /** e.g. http://127.0.0.1:9464 */
  readonly url: string;
  close(): Promise<void>;
}

async function route(options: ObservabilityServerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = requestUrl(req).pathname;
  if (req.method === 'GET' && path === '/metrics') return serveMetrics(options.metrics, req, res);
  if (req.method === 'GET' && path === '/healthz') {
    try {
      sendJson(res, 200, await options.health());
    } catch (err) {
      sendError(res, new ShoalError('INTERNAL', `health check failed: ${err instanceof Error ? err.message : String(err)}`));
    }
    return;
  }
  sendError(res, new ShoalError('NOT_FOUND', `no route for ${req.method ?? 'GET'} ${path}`));
}

/** Starts the server and resolves once it is listening. */
export async function createObservabilityServer(options: ObservabilityServerOptions): Promise<ObservabilityServer> {
  const server = createHttpServer((req, res) => route(options, req, res));
  const bound = await listenHttp(server, options.port, options.host ?? '127.0.0.1', 'observability');
  return { server, host: bound.host, port: bound.port, url: bound.url, close: () => closeHttp(server) };
}
