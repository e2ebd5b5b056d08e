/**
 * The cluster's admin token: what separates a cluster's operator from its public users. The
 * gateway serves built-in `$…` services, and the supervisor's admin API and the dashboard
 * answer, only to a request that presents it. It travels as `Authorization: Bearer <token>`
 * (CLI, scripts) or as the dashboard's cookie (a browser, after the one-click login URL).
 */
import { createHash, timingSafeEqual } from 'node:crypto';

export const ADMIN_TOKEN_ENV = 'SHOAL_ADMIN_TOKEN';
export const ADMIN_COOKIE = 'shoal_admin';
/** Shorter tokens are refused: they could be guessed. */
export const MIN_ADMIN_TOKEN_LENGTH = 16;

type Headers = Record<string, string | string[] | undefined>;

/** The token a request presents, from its Authorization header or else its cookie. */
export function presentedAdminToken(headers: Headers): string | undefined {
  const authorization = headers.authorization;
  if (typeof authorization === 'string') {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (match) return match[1];
  }
  const cookie = headers.cookie;
  if (typeof cookie !== 'string') return undefined;
  for (const part of cookie.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === ADMIN_COOKIE) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** Constant-time comparison (over digests, so the lengths do not leak either). */
export function adminTokenMatches(expected: string | undefined, presented: string | undefined): boolean {
  if (!expected || presented === undefined) return false;
  const a = createHash('sha256').update(expected).digest();
  const b = createHash('sha256').update(presented).digest();
  return timingSafeEqual(a, b);
}

/** Whether the request presents the cluster's admin token. */
export function hasAdminToken(expected: string | undefined, headers: Headers): boolean {
  return adminTokenMatches(expected, presentedAdminToken(headers));
}

/** Built-in services (`$data`, `$node`, …) are the cluster's own, never a public API. */
export function isBuiltinService(name: string): boolean {
  return name.startsWith('$');
}
