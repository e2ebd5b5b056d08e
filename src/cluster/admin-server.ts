import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { hasAdminToken } from '../core/index.ts';
import type { ClusterStatus } from './types.ts';

/** What the admin API can ask of the supervisor. */
export interface AdminHandlers {
  /** Every route but GET /healthz requires it. */
  adminToken: string;
  status(): Promise<ClusterStatus>;
  scale(nodes: number): Promise<void>;
  /** Starts stopping the cluster; the answer does not wait for it to finish. */
  stop(): void;
  maxNodes: number;
}

export interface AdminServer {
  readonly url: string;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 64 * 1024;

class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, 'PAYLOAD_TOO_LARGE', `body exceeds ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, 'BAD_REQUEST', 'body is not valid JSON');
  }
}

async function route(handlers: AdminHandlers, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://admin').pathname;
  const key = `${req.method ?? 'GET'} ${path}`;
  if (key === 'GET /healthz') return sendJson(res, 200, { status: 'healthy', pid: process.pid });
  if (!hasAdminToken(handlers.adminToken, req.headers)) {
    req.resume();
    throw new HttpError(401, 'UNAUTHORIZED', "the admin API needs the cluster's admin token (Authorization: Bearer <token>; it is in the cluster directory's admin-token file)");
  }
  switch (key) {
    case 'GET /status':
      return sendJson(res, 200, await handlers.status());
    case 'POST /scale': {
      const body = (await readJson(req)) as { nodes?: unknown };
      const nodes = body && typeof body === 'object' ? body.nodes : undefined;
      if (typeof nodes !== 'number' || !Number.isInteger(nodes) || nodes < 1 || nodes > handlers.maxNodes) {
        throw new HttpError(422, 'VALIDATION', `nodes must be an integer from 1 to ${handlers.maxNodes}`);
      }
      await handlers.scale(nodes);
      return sendJson(res, 200, await handlers.status());
    }
    case 'POST /stop':
      sendJson(res, 202, { stopping: true, pid: process.pid });
      return handlers.stop();
    default:
      throw new HttpError(404, 'NOT_FOUND', `no route for ${key}`);
  }
}

/** The supervisor's small HTTP API, which `shoal status`, `scale` and `down` talk to. */
export async function startAdminServer(host: string, port: number, handlers: AdminHandlers): Promise<AdminServer> {
  const server: Server = createServer((req, res) => {
    route(handlers, req, res).catch((err: unknown) => {
      const status = err instanceof HttpError ? err.status : 500;
      const code = err instanceof HttpError ? err.code : 'INTERNAL';
      const message = err instanceof Error ? err.message : String(err);
      if (!res.headersSent) sendJson(res, status, { error: { code, message } });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'EADDRINUSE' ? new Error(`port ${port} (admin API) on ${host} is already in use: choose another --port`) : err);
    });
    server.listen(port, host, () => resolve());
  });
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
