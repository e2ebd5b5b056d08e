import { ShoalError } from '../core/index.ts';

export interface ApiTarget {
  version: number;
  service: string;
  action: string;
}

const apiPath = /^\/api\/v(\d+)\/([^/]+)\/([^/]+)\/?$/;

/** Parses `/api/v{N}/{service}/{action}`; undefined when the path is not an API path at all. */
export function parseApiPath(pathname: string): ApiTarget | undefined {
  const match = apiPath.exec(pathname);
  if (!match) return undefined;
  const version = Number(match[1]);
  if (!Number.isSafeInteger(version) || version < 1) throw new ShoalError('NOT_FOUND', `API version v${match[1]} does not exist`);
  return { version, service: decodePathSegment(match[2]), action: decodePathSegment(match[3]) };
}

/** A percent-decoded path segment; a malformed escape (`%`, `%zz`, a cut UTF-8 sequence) is the client's error. */
export function decodePathSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new ShoalError('BAD_REQUEST', `path segment ${JSON.stringify(segment.slice(0, 100))} is not valid percent-encoding`);
  }
}

/**
 * Query parameters as action params. A value becomes a number or boolean only where the
 * action's params schema says that field is one, so `?limit=10` validates as it would in a
 * POST body while `?code=123` stays the string it is.
 */
export function paramsFromQuery(search: URLSearchParams, paramsSchema: unknown): Record<string, unknown> {
  const properties = (paramsSchema as { properties?: Record<string, { type?: unknown }> } | undefined)?.properties ?? {};
  const params: Record<string, unknown> = {};
  for (const [key, raw] of search) {
    const type = Object.hasOwn(properties, key) ? properties[key].type : undefined;
    if ((type === 'number' || type === 'integer') && raw.trim() !== '' && Number.isFinite(Number(raw))) params[key] = Number(raw);
    else if (type === 'boolean' && (raw === 'true' || raw === 'false')) params[key] = raw === 'true';
    else params[key] = raw;
  }
  return params;
}
