import type { RequestHead } from './request-head.ts';

/** The fields of one access log line, in the order they are written. */
export interface AccessLogLine {
  method: string;
  path: string;
  status: number;
  /** The server of the last try; null when none was tried. */
  upstream: string | null;
  durationMs: number;
  /** Response body bytes sent to the client. */
  bytes: number;
  clientIp: string;
  traceId: string | null;
  tries: number;
  /** Why an answer that had started was cut short. */
  error?: string;
}

/**
 * The access log line of a finished request. Plain arguments rather than an options object,
 * so a logged request allocates the line and nothing else.
 */
export function accessLogLine(
  head: Pick<RequestHead, 'method' | 'target'>,
  clientIp: string,
  status: number,
  upstreamId: string | undefined,
  durationMs: number,
  bytes: number,
  traceId: string | null,
  tries: number,
  cutShort: string | undefined,
): AccessLogLine {
  const line: AccessLogLine = { method: head.method, path: head.target, status, upstream: upstreamId ?? null, durationMs, bytes, clientIp, traceId, tries };
  if (cutShort !== undefined) line.error = cutShort;
  return line;
}
