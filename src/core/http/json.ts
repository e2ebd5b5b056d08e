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
    // A client that goes away mid-body is not a failure of ours: it is told apart so it is not logged as one.
    req.on('error', () => reject(clientAborted()));
    req.on('close', () => {
      if (!req.complete) reject(clientAborted());
    });
  });
}

function clientAborted(): ShoalError {
  return new ShoalError('BAD_REQUEST', 'the client closed the connection before sending the whole body', { clientAbort: true });
}

/** Whether an error says the client went away mid-request (log it as such, not as a failure). */
export function isClientAbort(err: unknown): boolean {
  return err instanceof ShoalError && (err.details as { clientAbort?: unknown } | undefined)?.clientAbort === true;
}

/** Deeper JSON than this is refused: encoders, validators and stores all recurse over it. */
export const MAX_JSON_DEPTH = 64;

function pathText(path: readonly (string | number)[]): string {
  return path.length === 0 ? 'the body' : path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`)).join('').replace(/^\./, '');
}

/**
 * Refuses what parsed but cannot be kept as given: nesting past MAX_JSON_DEPTH, and strings
 * with a lone surrogate (`"\ud800"`), which UTF-8 storage would silently turn into U+FFFD.
 * Walks without recursion, so a hostile depth cannot overflow the stack here either.
 */
export function checkJsonValue(value: unknown, maxDepth = MAX_JSON_DEPTH): void {
  const stack: Array<{ value: unknown; path: (string | number)[] }> = [{ value, path: [] }];
  while (stack.length > 0) {
    const { value: current, path } = stack.pop()!;
    if (typeof current === 'string') {
      if (!current.isWellFormed()) throw new ShoalError('VALIDATION', `${pathText(path)}: string has a lone UTF-16 surrogate`, { issues: [{ path: pathText(path), message: 'not well-formed Unicode' }] });
      continue;
    }
    if (current === null || typeof current !== 'object') continue;
    if (path.length >= maxDepth) throw new ShoalError('BAD_REQUEST', `JSON is nested deeper than ${maxDepth} levels (at ${pathText(path.slice(0, 8))}…)`, { maxDepth });
    if (Array.isArray(current)) {
      for (let i = 0; i < current.length; i++) stack.push({ value: current[i], path: [...path, i] });
    } else {
      for (const [key, child] of Object.entries(current)) {
        if (!key.isWellFormed()) throw new ShoalError('VALIDATION', `${pathText(path)}: a key has a lone UTF-16 surrogate`);
        stack.push({ value: child, path: [...path, key] });
      }
    }
  }
}

/** A JSON body, checked by checkJsonValue; an empty one reads as `{}`. */
export function parseJsonBody(body: Buffer | string): unknown {
  const text = typeof body === 'string' ? body : body.toString('utf8');
  if (text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const reason = err instanceof RangeError ? `nested too deeply (the limit is ${MAX_JSON_DEPTH} levels)` : (err as Error).message;
    throw new ShoalError('BAD_REQUEST', `request body is not valid JSON: ${reason}`);
  }
  checkJsonValue(value);
  return value;
}

/** Answers with a JSON body. When headers are already out (a held long-poll), only the body is written. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body ?? null);
  if (res.headersSent) {
    res.end(text);
    return;
  }
  // Set one by one rather than passed to writeHead, so an access log can still read them back.
  for (const name in headers) res.setHeader(name, headers[name]);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Answers `{ error: { code, message, details } }` with the status that fits the error's code. */
export function sendError(res: ServerResponse, err: unknown, headers: Record<string, string> = {}): void {
  const error = toShoalError(err);
  sendJson(res, error.httpStatus, error.toJSON(), headers);
}
