import type { IncomingMessage, ServerResponse } from 'node:http';
import { closeHttp, createHttpServer, hasAdminToken, listenHttp, parseJsonBody, readBody, requestUrl, sendJson, ShoalError } from '../core/index.ts';
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

async function route(handlers: AdminHandlers, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = requestUrl(req).pathname;
  const key = `${req.method ?? 'GET'} ${path}`;
  if (key === 'GET /healthz') return sendJson(res, 200, { status: 'healthy', pid: process.pid });
  if (!hasAdminToken(handlers.adminToken, req.headers)) {
    req.resume();
    throw new ShoalError('UNAUTHORIZED', "the admin API needs the cluster's admin token (Authorization: Bearer <token>; it is in the cluster directory's admin-token file)");
  }
  switch (key) {
    case 'GET /status':
      return sendJson(res, 200, await handlers.status());
    case 'POST /scale': {
      const body = parseJsonBody(await readBody(req, MAX_BODY_BYTES)) as { nodes?: unknown } | null;
      const nodes = body && typeof body === 'object' ? body.nodes : undefined;
      if (typeof nodes !== 'number' || !Number.isInteger(nodes) || nodes < 1 || nodes > handlers.maxNodes) {
        throw new ShoalError('VALIDATION', `nodes must be an integer from 1 to ${handlers.maxNodes}`);
      }
      await handlers.scale(nodes);
      return sendJson(res, 200, await handlers.status());
    }
    case 'POST /stop':
      sendJson(res, 202, { stopping: true, pid: process.pid });
      return handlers.stop();
    default:
      throw new ShoalError('NOT_FOUND', `no route for ${key}`);
  }
}

/** The supervisor's small HTTP API, which `shoal status`, `scale` and `down` talk to. */
export async function startAdminServer(host: string, port: number, handlers: AdminHandlers): Promise<AdminServer> {
  const server = createHttpServer((req, res) => route(handlers, req, res), {
    // The supervisor's stderr is the terminal of `shoal up`, or supervisor.log when detached.
    onInternalError: (err, req, errorId) =>
      process.stderr.write(`${JSON.stringify({ level: 'error', msg: 'admin request failed', errorId, path: req.url?.slice(0, 200), err: err instanceof Error ? err.message : String(err), stack: err instanceof Error ? err.stack : undefined })}\n`),
  });
  const bound = await listenHttp(server, port, host, 'admin API');
  return { url: bound.url, close: () => closeHttp(server, { dropActive: true }) };
}
