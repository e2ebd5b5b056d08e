/**
 * Admission: whether a parsed request may go upstream at all. It is decided before an exchange
 * or a tunnel exists, so a refused request costs no upstream pick and no forwarded head.
 */
import type { ListenerContext } from './listener-context.ts';
import { ProxyError } from './proxy-errors.ts';
import type { RequestHead } from './request-head.ts';

/** The listener's rate limit for this client; taking a token is the one side effect. */
function rateLimitRefusal(head: RequestHead, context: ListenerContext, clientIp: string, nowMs: number): ProxyError | undefined {
  const limiter = context.rateLimiter;
  if (limiter === undefined) return undefined;
  const waitMs = limiter.take(limiter.keyOf(head.keyValue, clientIp), nowMs);
  if (waitMs <= 0) return undefined;
  const seconds = Math.max(1, Math.ceil(waitMs / 1000));
  return new ProxyError(429, 'RATE_LIMITED', 'too many requests; slow down', { retryAfterSeconds: seconds }, { 'retry-after': String(seconds) });
}

/** A declared body over the limit (0: none); a chunked body is measured as it flows. */
function bodySizeRefusal(head: RequestHead, maxBody: number): ProxyError | undefined {
  if (maxBody <= 0 || head.contentLength <= maxBody) return undefined;
  return new ProxyError(413, 'PAYLOAD_TOO_LARGE', `request body of ${head.contentLength} bytes exceeds the limit of ${maxBody}`, { limit: maxBody });
}

/**
 * Why the request is refused, or undefined to let it through; a refusal is counted in the
 * listener's metrics. An upgrade is only rate limited: its bytes after the head are no body.
 */
export function admissionRefusal(head: RequestHead, context: ListenerContext, clientIp: string, nowMs: number): ProxyError | undefined {
  const refusal = rateLimitRefusal(head, context, clientIp, nowMs) ?? (head.upgrade ? undefined : bodySizeRefusal(head, context.maxBodyBytes));
  if (refusal !== undefined) context.metrics.refused(context.name, refusal.status);
  return refusal;
}
