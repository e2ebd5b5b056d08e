import type { ServiceDescriptor } from '../control/index.ts';
import type { Logger } from '../core/index.ts';
import { decodePathSegment } from './api-route.ts';

export interface RestRoute {
  method: string;
  /** The declared path, e.g. `/v1/links/:code`. */
  path: string;
  service: string;
  version: number;
  action: string;
  pattern: RegExp;
  paramNames: string[];
}

export interface RestMatch {
  route: RestRoute;
  pathParams: Record<string, string>;
}

/**
 * REST aliases that services declare (`rest: { method: 'GET', path: '/v1/links/:code' }`),
 * compiled once per change of the service set rather than per request.
 */
export class RestRouteTable {
  private routes: RestRoute[] = [];
  private signature = '';
  private readonly logger: Logger | undefined;

  constructor(logger?: Logger) {
    this.logger = logger;
  }

  /** Rebuilds from the live services; cheap when nothing changed. */
  update(descriptors: readonly ServiceDescriptor[]): void {
    const declared: Array<Omit<RestRoute, 'pattern' | 'paramNames'>> = [];
    for (const d of descriptors) {
      for (const a of d.actions) {
        if (a.rest) declared.push({ method: a.rest.method.toUpperCase(), path: a.rest.path, service: d.name, version: d.version, action: a.name });
      }
    }
    declared.sort((x, y) => (x.path === y.path ? x.method.localeCompare(y.method) : x.path < y.path ? -1 : 1));
    const signature = declared.map((r) => `${r.method} ${r.path} ${r.service}@${r.version}.${r.action}`).join('\n');
    if (signature === this.signature) return;
    this.signature = signature;
    const routes: RestRoute[] = [];
    const seen = new Map<string, RestRoute>();
    for (const r of declared) {
      const key = `${r.method} ${r.path}`;
      const existing = seen.get(key);
      if (existing) {
        this.logger?.warn({ route: key, kept: `${existing.service}@${existing.version}.${existing.action}`, ignored: `${r.service}@${r.version}.${r.action}` }, 'two actions declare the same REST route');
        continue;
      }
      const compiled = { ...r, ...compilePath(r.path) };
      seen.set(key, compiled);
      routes.push(compiled);
    }
    // Literal segments win over parameters: `/v1/links/top` before `/v1/links/:code`.
    routes.sort((x, y) => paramCount(x) - paramCount(y));
    this.routes = routes;
  }

  match(method: string, pathname: string): RestMatch | undefined {
    for (const route of this.routes) {
      if (route.method !== method) continue;
      const m = route.pattern.exec(pathname);
      if (!m) continue;
      const pathParams: Record<string, string> = {};
      route.paramNames.forEach((name, i) => {
        pathParams[name] = decodePathSegment(m[i + 1]);
      });
      return { route, pathParams };
    }
    return undefined;
  }

  /** The methods some route serves on this path: a request with another gets 405 and these in Allow. */
  methodsFor(pathname: string): string[] {
    return [...new Set(this.routes.filter((r) => r.pattern.test(pathname)).map((r) => r.method))].sort();
  }

  all(): readonly RestRoute[] {
    return this.routes;
  }
}

function paramCount(route: RestRoute): number {
  return route.paramNames.length;
}

function compilePath(path: string): { pattern: RegExp; paramNames: string[] } {
  const paramNames: string[] = [];
  const source = path
    .split('/')
    .map((segment) => {
      if (segment.startsWith(':')) {
        paramNames.push(segment.slice(1));
        return '([^/]+)';
      }
      return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  return { pattern: new RegExp(`^${source}/?$`), paramNames };
}
