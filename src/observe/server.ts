/**
 * The small HTTP surface every process exposes for operations: Prometheus scraping on
 * /metrics and a JSON health document on /healthz.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ErrorCode } from '../core/index.ts';
import type { Metrics } from './metrics.ts';

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function sendError(res: ServerResponse, status: number, code: ErrorCode, message: string): void {
  sendJson(res, status, { error: { code, message } });
}

/** Answers a request with the registry's Prometheus text; usable from any node:http handler. */
export async function serveMetrics(metrics: Metrics, _req: IncomingMessage, res: ServerResponse): Promise<void> {
  let text: string;
  try {
    text = await metrics.metricsText();
  } catch (err) {
    sendError(res, 500, 'INTERNAL', `metrics collection failed: ${err instanceof Error ? err.message : String(err)}`);
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

function pathOf(url: string | undefined): string {
  if (!url) return '/';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

async function route(options: ObservabilityServerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = pathOf(req.url);
  if (req.method === 'GET' && path === '/metrics') return serveMetrics(options.metrics, req, res);
  if (req.method === 'GET' && path === '/healthz') {
    try {
      sendJson(res, 200, await options.health());
    } catch (err) {
      sendError(res, 500, 'INTERNAL', `health check failed: ${err instanceof Error ? err.message : String(err)}`);
    }
    return;
  }
  sendError(res, 404, 'NOT_FOUND', `no route for ${req.method ?? 'GET'} ${path}`);
}

/** Starts the server and resolves once it is listening. */
export function createObservabilityServer(options: ObservabilityServerOptions): Promise<ObservabilityServer> {
  const host = options.host ?? '127.0.0.1';
  const server = createServer((req, res) => {
    route(options, req, res).catch((err: unknown) => {
      if (!res.headersSent) sendError(res, 500, 'INTERNAL', err instanceof Error ? err.message : String(err));
      else res.destroy();
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      const port = (server.address() as AddressInfo).port;
      const urlHost = host.includes(':') ? `[${host}]` : host;
      resolve({
        server,
        host,
        port,
        url: `http://${urlHost}:${port}`,
        close: () =>
          new Promise<void>((done, fail) => {
            server.close((err) => (err ? fail(err) : done()));
            // Scrapers hold keep-alive connections; without this close() waits for them to time out.
            server.closeIdleConnections();
          }),
      });
    });
  });
}
