import { STATUS_CODES } from 'node:http';
import { ShoalError, type ErrorCode } from '../../core/index.ts';

/** The codes in the balancer's own answers: the shared error codes. */
export type ProxyErrorCode = ErrorCode;

/**
 * A failure the balancer answers itself. The status is explicit because a proxy's statuses
 * (502, 431, 408) are finer than the error codes' own mapping.
 */
export class ProxyError extends ShoalError {
  readonly status: number;
  readonly headers: Record<string, string> | undefined;
  constructor(status: number, code: ProxyErrorCode, message: string, details?: unknown, headers?: Record<string, string>) {
    super(code, message, details);
    this.status = status;
    this.headers = headers;
  }

  /** The JSON body of the answer: `{error:{code,message,details}}`. */
  body(): string {
    return JSON.stringify({ error: { code: this.code, message: this.message, details: this.details } });
  }
}

/**
 * The whole response for an error the balancer answers itself: `{error:{code,message,details}}`
 * with the error's status, `extra` header lines (already encoded) and, when the connection
 * will close after it, Connection: close. `bodyLength` receives the body's length.
 */
export function proxyErrorResponse(error: ProxyError, extra: Buffer, close: boolean): { bytes: Buffer; bodyLength: number } {
  const body = error.body();
  const bodyLength = Buffer.byteLength(body);
  let head = `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? 'Error'}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${bodyLength}\r\n`;
  if (error.headers) for (const [name, value] of Object.entries(error.headers)) head += `${name}: ${value}\r\n`;
  const headBytes = Buffer.from(head, 'latin1');
  const tail = `${close ? 'connection: close\r\n' : ''}\r\n${body}`;
  return { bytes: Buffer.concat([headBytes, extra, Buffer.from(tail)]), bodyLength };
}

/** A raw HTTP/1.1 error response for a connection that closes after it (parse errors, upgrades). */
export function rawErrorResponse(status: number, reason: string, error: ProxyError): string {
  const body = error.body();
  return `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`;
}

/** No server of the backend can take the request: none healthy, or every one refusing. */
export function noUpstreamError(backend: string, eligibleCount: number): ProxyError {
  if (eligibleCount === 0) return new ProxyError(503, 'UNAVAILABLE', `no healthy upstream server in backend "${backend}"`, { backend });
  return new ProxyError(503, 'CIRCUIT_OPEN', `every upstream server of backend "${backend}" is refusing requests (circuit open or at its concurrency limit)`, { backend });
}

export function upstreamFailedError(upstream: string, reason: string): ProxyError {
  return new ProxyError(502, 'BAD_GATEWAY', `upstream server ${upstream} failed: ${reason}`, { upstream, reason });
}

export function tryTimeoutError(upstream: string, tryMs: number): ProxyError {
  return new ProxyError(504, 'TIMEOUT', `upstream server ${upstream} did not answer within ${tryMs}ms`, { upstream });
}

export function totalTimeoutError(upstream: string, totalMs: number, tries: number): ProxyError {
  return new ProxyError(504, 'TIMEOUT', `no upstream server answered within ${totalMs}ms`, { upstream, tries });
}
