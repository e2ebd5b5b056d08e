import type { ServerResponse } from 'node:http';
import { ShoalError, type ErrorCode } from '../../core/index.ts';

/**
 * A failure the balancer answers itself. The status is explicit because a proxy's statuses
 * (502, 431, 408) are finer than the error codes' own mapping.
 */
export class ProxyError extends ShoalError {
  readonly status: number;
  readonly headers: Record<string, string> | undefined;

  constructor(status: number, code: ErrorCode, message: string, details?: unknown, headers?: Record<string, string>) {
    super(code, message, details);
    this.status = status;
    this.headers = headers;
  }
}

/** Writes `{error:{code,message,details}}` with the error's status; returns the body's length. */
export function sendProxyError(res: ServerResponse, error: ProxyError, extraHeaders: readonly string[], close: boolean): number {
  const body = JSON.stringify(error.toJSON());
  const length = Buffer.byteLength(body);
  const headers: string[] = ['content-type', 'application/json; charset=utf-8', 'content-length', String(length)];
  if (error.headers) for (const [name, value] of Object.entries(error.headers)) headers.push(name, value);
  for (let i = 0; i < extraHeaders.length; i++) headers.push(extraHeaders[i]);
  // The request body may still be arriving; closing saves reading (and discarding) all of it.
  if (close) headers.push('connection', 'close');
  res.writeHead(error.status, headers);
  res.end(body);
  return length;
}

/** A raw HTTP/1.1 error response for a socket no HTTP response object owns (parse errors, upgrades). */
export function rawErrorResponse(status: number, reason: string, error: ProxyError): string {
  const body = JSON.stringify(error.toJSON());
  return `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`;
}
