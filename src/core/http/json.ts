/**
 * JSON over HTTP for every Node-based listener of the project (gateway, control, supervisor
 * admin, observability): one way to read a bounded body, parse it and answer, so a fix to
 * one (limits, error shape, status codes) reaches all of them.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ShoalError, toShoalError } from '../errors.ts';

/** Past this many times the limit a client that keeps sending is cut off rather than drained. */
const DRAIN_FACTOR = 16;

/** Reads a request body up to a limit; a larger one is refused (PAYLOAD_TOO_LARGE) before it is buffered whole. */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    req.resume();
    return Promise.reject(new ShoalError('PAYLOAD_TOO_LARGE', `body of ${declared} bytes exceeds the limit of ${maxBytes}`, { limit: maxBytes }));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (refused) {
        if (size > DRAIN_FACTOR * maxBytes) req.destroy();
        return;
      }
      if (size > maxBytes) {
        refused = true;
        chunks.length = 0;
        reject(new ShoalError('PAYLOAD_TOO_LARGE', `body exceeds the limit of ${maxBytes} bytes`, { limit: maxBytes }));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!refused) resolve(Buffer.concat(chunks));
    });
    req.on('error', reject);
  });
}

/** A JSON body; an empty one reads as `{}`. */
export function parseJsonBody(body: Buffer | string): unknown {
  const text = typeof body === 'string' ? body : body.toString('utf8');
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ShoalError('BAD_REQUEST', `request body is not valid JSON: ${(err as Error).message}`);
  }
}

/** Answers with a JSON body. When headers are already out (a held long-poll), only the body is written. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body ?? null);
  if (res.headersSent) {
    res.end(text);
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Answers `{ error: { code, message, details } }` with the status that fits the error's code. */
export function sendError(res: ServerResponse, err: unknown, headers: Record<string, string> = {}): void {
  const error = toShoalError(err);
  sendJson(res, error.httpStatus, error.toJSON(), headers);
}
