/**
 * Request signing between coordinator clients and the server. Each request carries the time
 * and an HMAC over method, path (with query), time and body, so the shared secret never
 * crosses the wire and a captured request stops working once the time window has passed.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const TIME_HEADER = 'x-shoal-time';
export const SIGNATURE_HEADER = 'x-shoal-signature';
/** Clocks of cluster machines may differ a little; more than this is treated as a replay. */
const MAX_CLOCK_SKEW_MS = 30_000;

export function signRequest(secret: string, method: string, path: string, time: string, body: string): string {
  return createHmac('sha256', secret).update(`${method}\n${path}\n${time}\n${body}`).digest('hex');
}

/** Returns why the request is not authentic, or undefined when it is. */
export function verifyRequest(
  secret: string,
  method: string,
  path: string,
  headers: Record<string, string | string[] | undefined>,
  body: string,
  now: number = Date.now(),
): string | undefined {
  const time = headers[TIME_HEADER];
  const signature = headers[SIGNATURE_HEADER];
  if (typeof time !== 'string' || typeof signature !== 'string') {
    return `missing ${TIME_HEADER} or ${SIGNATURE_HEADER} header`;
  }
  const sentAt = Number(time);
  if (!/^\d+$/.test(time) || !Number.isSafeInteger(sentAt)) return `${TIME_HEADER} is not a time in milliseconds`;
  if (Math.abs(now - sentAt) > MAX_CLOCK_SKEW_MS) return `${TIME_HEADER} is more than ${MAX_CLOCK_SKEW_MS} ms off`;
  const expected = Buffer.from(signRequest(secret, method, path, time, body), 'hex');
  const given = /^[0-9a-f]+$/i.test(signature) ? Buffer.from(signature, 'hex') : Buffer.alloc(0);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'bad signature';
  return undefined;
}
