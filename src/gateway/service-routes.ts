import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Tracer } from '@opentelemetry/api';
import { concealedCause, concealUnexpected, errorIdOf, hasAdminToken, isBuiltinService, isClientAbort, parseJsonBody, readBody, sendError, sendJson, ShoalError, type CallMeta, type CallReceipt, type Logger } from '../core/index.ts';
import type { ActionDescriptor } from '../control/index.ts';
import type { GatewayBroker } from '../runtime/index.ts';
import { paramsFromQuery, parseApiPath, type ApiTarget } from './api-route.ts';
import { RestRouteTable } from './rest-routes.ts';

const metaSetter = {
  set(carrier: CallMeta, key: string, value: string) {
    if (key === 'traceparent') carrier.traceparent = value;
    else if (key === 'tracestate') carrier.tracestate = value;
  },
};

const headerGetter = {
  keys: (carrier: IncomingMessage['headers']) => Object.keys(carrier),
  get: (carrier: IncomingMessage['headers'], key: string) => carrier[key],
};

export interface ServiceRoutesOptions {
  broker: GatewayBroker;
  logger: Logger;
  maxBodyBytes: number;
  adminToken?: string;
}

/**
 * The gateway's service routes: `/api/v{N}/{service}/{action}` and the REST aliases services
 * declare, each turned into a call to a node inside a server span. It enforces HTTP's rules
 * for them (methods, GET only for idempotent actions) and the trust boundary (built-in
 * services need the admin token); every answer names the node and the trace.
 */
export class ServiceRoutes {
  readonly #broker: GatewayBroker;
  readonly #logger: Logger;
  readonly #maxBodyBytes: number;
  readonly #adminToken: string | undefined;
  readonly #tracer: Tracer = trace.getTracer('shoal-gateway');
  readonly #rest: RestRouteTable;

  constructor(options: ServiceRoutesOptions) {
    this.#broker = options.broker;
    this.#logger = options.logger;
    this.#maxBodyBytes = options.maxBodyBytes;
    this.#adminToken = options.adminToken;
    this.#rest = new RestRouteTable(options.logger);
    const { registry } = options.broker;
    this.#rest.update(registry.descriptors());
    registry.onChange(() => this.#rest.update(registry.descriptors()));
  }

  /** Answers an API path; false when the path is not one. */
  async handleApi(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    const target = parseApiPath(url.pathname);
    if (!target) return false;
    if (req.method !== 'GET' && req.method !== 'POST') {
      req.resume();
      sendError(res, new ShoalError('METHOD_NOT_ALLOWED', `method ${req.method} is not allowed on API routes (use GET or POST)`), { allow: this.#allowedMethods(target) });
      return true;
    }
    if (req.method === 'GET' && this.#actionOf(target)?.idempotent === false) {
      // A GET may be prefetched, cached, retried or followed from a link: only safe to repeat actions answer it.
      req.resume();
      sendError(res, new ShoalError('METHOD_NOT_ALLOWED', `${target.service}.${target.action} changes state: call it with POST (only idempotent actions answer GET)`), { allow: 'POST' });
      return true;
    }
    await this.#callTarget(req, res, url, target, `/api/v${target.version}/${target.service}/${target.action}`);
    return true;
  }

  /** Answers a declared REST alias (405 with Allow for a path served under other methods); false otherwise. */
  async handleRest(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    const match = this.#rest.match(req.method ?? 'GET', url.pathname);
    if (!match) {
      const allowed = this.#rest.methodsFor(url.pathname);
      if (allowed.length === 0) return false;
      req.resume();
      sendError(res, new ShoalError('METHOD_NOT_ALLOWED', `method ${req.method} is not allowed on ${url.pathname}`), { allow: allowed.join(', ') });
      return true;
    }
    const { route, pathParams } = match;
    await this.#callTarget(req, res, url, { service: route.service, version: route.version, action: route.action }, route.path, pathParams);
    return true;
  }

  #actionOf(target: ApiTarget): ActionDescriptor | undefined {
    const descriptor = this.#broker.registry.endpoints(target.service, target.version)[0]?.descriptor;
    return descriptor?.actions.find((a) => a.name === target.action);
  }

  /** GET and POST for an idempotent action (or one not known here yet), POST alone for the rest. */
  #allowedMethods(target: ApiTarget): string {
    return this.#actionOf(target)?.idempotent === false ? 'POST' : 'GET, POST';
  }

  /** Params from the query (GET, DELETE) or the JSON body (other methods), plus path params. */
  async #readParams(req: IncomingMessage, url: URL, target: ApiTarget, pathParams?: Record<string, string>): Promise<unknown> {
    let params: unknown;
    if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'DELETE') {
      params = paramsFromQuery(url.searchParams, this.#actionOf(target)?.paramsSchema);
    } else {
      params = parseJsonBody(await readBody(req, this.#maxBodyBytes));
    }
    if (!pathParams) return params;
    if (params === null || typeof params !== 'object' || Array.isArray(params)) {
      throw new ShoalError('BAD_REQUEST', 'request body must be a JSON object on this route');
    }
    return { ...(params as Record<string, unknown>), ...pathParams };
  }

  /** Built-in services are the cluster's own: hidden without an admin token, refused without the right one. */
  #refuseBuiltin(req: IncomingMessage, target: ApiTarget): void {
    if (!isBuiltinService(target.service) || hasAdminToken(this.#adminToken, req.headers)) return;
    req.resume();
    if (!this.#adminToken) throw new ShoalError('NOT_FOUND', `service ${target.service} is not served by this gateway`);
    throw new ShoalError('UNAUTHORIZED', `${target.service} is a built-in service: it needs the cluster's admin token (Authorization: Bearer <token>)`);
  }

  /** Calls the target inside a server span; the answer names the node and the trace. */
  async #callTarget(req: IncomingMessage, res: ServerResponse, url: URL, target: ApiTarget, route: string, pathParams?: Record<string, string>): Promise<void> {
    const parent = propagation.extract(ROOT_CONTEXT, req.headers, headerGetter);
    const span = this.#tracer.startSpan(`${req.method} ${route}`, { kind: SpanKind.SERVER }, parent);
    const meta: CallMeta = { requestId: String(req.headers['x-request-id'] ?? randomUUID()) };
    propagation.inject(trace.setSpan(context.active(), span), meta, metaSetter);
    const headers: Record<string, string> = meta.traceparent ? { traceparent: meta.traceparent } : {};
    const receipt: CallReceipt = {};
    try {
      this.#refuseBuiltin(req, target);
      const params = await this.#readParams(req, url, target, pathParams);
      const { result } = await this.#broker.callWithOrigin(target.service, target.version, target.action, params, { meta }, receipt);
      if (receipt.servedBy) headers['x-shoal-node'] = receipt.servedBy;
      sendJson(res, 200, result, headers);
    } catch (err) {
      if (receipt.servedBy) headers['x-shoal-node'] = receipt.servedBy;
      const error = concealUnexpected(err);
      span.setStatus({ code: SpanStatusCode.ERROR, message: error.code });
      if (isClientAbort(err)) this.#logger.info({ path: url.pathname }, 'client aborted the request mid-body');
      else if (error.code === 'INTERNAL') this.#logger.error({ errorId: errorIdOf(error), err: concealedCause(error)?.message ?? error.message, stack: concealedCause(error)?.stack, path: url.pathname }, 'call failed');
      sendError(res, error, headers);
    } finally {
      span.end();
    }
  }
}
