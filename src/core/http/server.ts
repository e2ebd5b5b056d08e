/**
 * The one way a Node-based listener of the project (gateway, control, supervisor admin,
 * observability) is created, so each holds the same line against malformed input: a header
 * timeout that answers 408 when it fires (checked every second, not every 30 s), bounded
 * headers (431), request lines and framings Node would let through refused before any handler
 * runs, and handler errors answered as JSON, never left hanging.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { concealUnexpected, errorIdOf, ShoalError } from '../errors.ts';
import { sendError } from './json.ts';

export interface HttpServerOptions {
  /** How long a client may take to send a request head (default 10 s); then 408. */
  headersTimeoutMs?: number;
  /** How long a client may take to send a whole request (default 30 s). */
  requestTimeoutMs?: number;
  /** Largest request head (default 16 KiB); larger is 431. */
  maxHeaderBytes?: number;
  /** Idle keep-alive time (default Node's 5 s). */
  keepAliveTimeoutMs?: number;
  /**
   * Called for a handler error that is a bug: the client got INTERNAL with only `errorId`, so
   * the log line written here is the one place its message and stack go.
   */
  onInternalError?: (err: unknown, req: IncomingMessage, errorId: string) => void;
}

export type HttpHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void> | void;

/** How long a refused connection may stay open for its answer to reach the client. */
const REFUSAL_LINGER_MS = 1_000;

/** Why Node's parser gave up on a connection, as the status a client should see. */
function refusalOf(err: NodeJS.ErrnoException): { status: number; reason: string; code: string; message: string } {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, reason: 'Request Header Fields Too Large', code: 'HEADERS_TOO_LARGE', message: 'request head is too large' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, reason: 'Request Timeout', code: 'REQUEST_TIMEOUT', message: 'request was not received in time' };
    default:
      return { status: 400, reason: 'Bad Request', code: 'BAD_REQUEST', message: `malformed request (${err.code ?? 'parse error'})` };
  }
}

/** Answers a connection the parser refused, then makes sure it goes away even if the client keeps sending. */
function refuseConnection(err: NodeJS.ErrnoException, socket: Socket): void {
  if (!socket.writable || (err.code === 'ECONNRESET' && socket.destroyed)) {
    socket.destroy();
    return;
  }
  const { status, reason, code, message } = refusalOf(err);
  const body = JSON.stringify({ error: { code, message } });
  socket.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  setTimeout(() => socket.destroy(), REFUSAL_LINGER_MS).unref();
}

/**
 * What Node's parser accepts but no listener here serves: versions other than HTTP/1.0 and
 * 1.1 (2.0, 0.9, a missing one), a second Host (which one would routing believe?), and a
 * transfer coding other than a lone `chunked` (nothing here decodes gzip).
 */
function malformed(req: IncomingMessage): ShoalError | undefined {
  if (req.httpVersion !== '1.1' && req.httpVersion !== '1.0') {
    return new ShoalError('VERSION_NOT_SUPPORTED', `HTTP/${req.httpVersion} is not supported; use HTTP/1.1`);
  }
  let hosts = 0;
  for (let i = 0; i < req.rawHeaders.length; i += 2) if (req.rawHeaders[i].toLowerCase() === 'host') hosts++;
  if (hosts > 1) return new ShoalError('BAD_REQUEST', 'request has more than one Host header');
  const coding = req.headers['transfer-encoding'];
  if (coding !== undefined && coding.trim().toLowerCase() !== 'chunked') {
    return new ShoalError('NOT_IMPLEMENTED', `transfer coding "${coding.slice(0, 100)}" is not supported; only chunked is`);
  }
  return undefined;
}

export function createHttpServer(handler: HttpHandler, options: HttpServerOptions = {}): Server {
  const server = createServer(
    {
      headersTimeout: options.headersTimeoutMs ?? 10_000,
      requestTimeout: options.requestTimeoutMs ?? 30_000,
      maxHeaderSize: options.maxHeaderBytes ?? 16 * 1024,
      // Node checks the two timeouts above this often; its default (30 s) let slow heads last far past them.
      connectionsCheckingInterval: 1_000,
    },
    (req, res) => {
      const refused = malformed(req);
      if (refused) {
        res.shouldKeepAlive = false;
        req.resume();
        sendError(res, refused, { connection: 'close' });
        return;
      }
      let pending: Promise<void> | void;
      try {
        pending = handler(req, res);
      } catch (err) {
        pending = Promise.reject(err);
      }
      if (pending) {
        pending.catch((err: unknown) => {
          const answer = concealUnexpected(err);
          const errorId = answer !== err ? errorIdOf(answer) : undefined;
          if (errorId !== undefined) options.onInternalError?.(err, req, errorId);
          if (!res.headersSent) sendError(res, answer);
          else res.destroy();
        });
      }
    },
  );
  if (options.keepAliveTimeoutMs !== undefined) server.keepAliveTimeout = options.keepAliveTimeoutMs;
  server.on('clientError', refuseConnection);
  return server;
}
