import {
  ShoalError,
  collectInterceptors,
  composeChain,
  serviceKey,
  wallClockMs,
  type CallMeta,
  type CallReceipt,
  type InboundCall,
  type Next,
  type OutboundAttempt,
  type OutboundCall,
  type Plugin,
} from '../core/index.ts';
import type { Strategy } from '../balance/index.ts';
import type { Transport } from '../transport/index.ts';
import type { CallByNameOptions } from './facade.ts';
import type { ServiceEndpoint, ServiceRegistry } from './registry.ts';
import type { RequestIds } from './request-ids.ts';
import type { StrategyCache } from './strategy-cache.ts';
import { encodeCallFrame } from './wire.ts';
import { callScope } from './call-scope.ts';

export interface CallDispatcherOptions {
  nodeId: string;
  registry: ServiceRegistry;
  transport: Transport;
  plugins: readonly Plugin[];
  strategies: StrategyCache;
  requestIds: RequestIds;
  /** The inbound chain of this process, for calls whose chosen endpoint is this node. */
  serveLocal: Next<InboundCall, unknown>;
  defaultTimeoutMs?: number;
  /** Serve a call in-process when this node hosts the service (default true). */
  preferLocal?: boolean;
}

/**
 * The dispatcher's own view of a call it built: plugins see these fields readonly, the
 * dispatcher keeps the attempt count and the endpoints to avoid on the call it dispatches.
 */
interface TrackedCall extends OutboundCall {
  attempts: number;
  exclude?: Set<string>;
  balanceKey?: string;
  targetNode?: string;
  receipt?: CallReceipt;
}

/** The options of a call made without any, shared rather than made per call. */
const noOptions: CallByNameOptions = Object.freeze({});

/**
 * Sends calls to services wherever they run: builds each call, runs it through the outbound
 * chain (where retries live), chooses an endpoint with the route's balancing strategy and makes
 * each attempt in-process or over the transport.
 */
export class CallDispatcher {
  readonly #options: CallDispatcherOptions;
  readonly #registry: ServiceRegistry;
  readonly #strategies: StrategyCache;
  readonly #outbound: Next<OutboundCall, unknown>;
  readonly #attempt: Next<OutboundAttempt, unknown>;
  /** Plugins that can veto an endpoint or bound a call's time, found once rather than per call. */
  readonly #endpointFilters: readonly Plugin[];
  readonly #deadlineHooks: readonly Plugin[];
  /** Services seen since start: a call to one that has no endpoint now is UNAVAILABLE, not NOT_FOUND. */
  readonly #seenServices = new Set<string>();

  constructor(options: CallDispatcherOptions) {
    this.#options = options;
    this.#registry = options.registry;
    this.#strategies = options.strategies;
    this.#endpointFilters = options.plugins.filter((p) => p.endpointAvailable);
    this.#deadlineHooks = options.plugins.filter((p) => p.callDeadline);
    this.#outbound = composeChain(collectInterceptors(options.plugins, 'outboundCall'), (call) => this.#dispatch(call as TrackedCall));
    this.#attempt = composeChain(collectInterceptors(options.plugins, 'outboundAttempt'), (attempt) => this.#send(attempt));
    options.registry.onChange(() => {
      for (const descriptor of options.registry.descriptors()) this.#seenServices.add(serviceKey(descriptor.name, descriptor.version));
    });
  }

  call(service: string, version: number, action: string, params: unknown, options: CallByNameOptions = noOptions): Promise<unknown> {
    // Not async: the chain's promise is handed back as it is, without another layer per call.
    try {
      return this.#outbound(this.#build(service, version, action, params, options, undefined));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  async callWithOrigin(
    service: string,
    version: number,
    action: string,
    params: unknown,
    options: CallByNameOptions = noOptions,
    receipt: CallReceipt = {},
  ): Promise<{ result: unknown; servedBy: string | undefined }> {
    // A receipt rather than a field of the call: plugins may hand on a copy of the call.
    const result = await this.#outbound(this.#build(service, version, action, params, options, receipt));
    return { result, servedBy: receipt.servedBy };
  }

  #build(service: string, version: number, action: string, params: unknown, options: CallByNameOptions, receipt: CallReceipt | undefined): TrackedCall {
    const endpoints = this.#registry.endpoints(service, version);
    const descriptor = endpoints[0]?.descriptor;
    if (!descriptor) throw this.#missingService(service, version);
    const declared = descriptor.actions.find((a) => a.name === action);
    if (!declared) {
      throw new ShoalError('NOT_FOUND', `action ${service}.${action} does not exist in version ${version}`, {
        actions: descriptor.actions.map((a) => a.name),
      });
    }
    const meta: CallMeta = { requestId: options.meta?.requestId ?? this.#options.requestIds.next(), callerNodeId: this.#options.nodeId };
    // Without meta of its own, a call made while serving another belongs to that one's trace and deadline.
    const given = options.meta ?? callScope.getStore();
    if (given) {
      if (given.traceparent) meta.traceparent = given.traceparent;
      if (given.tracestate) meta.tracestate = given.tracestate;
      if (given.deadline !== undefined) meta.deadline = given.deadline;
    }
    const balanceKeyField = descriptor.balanceKey;
    const balanceKey =
      options.balanceKey ??
      (balanceKeyField && params && typeof params === 'object' ? stringOrUndefined((params as Record<string, unknown>)[balanceKeyField]) : undefined);
    const call: TrackedCall = {
      service,
      version,
      action,
      params,
      meta,
      idempotent: declared.idempotent,
      timeoutMs: options.timeoutMs ?? declared.timeoutMs ?? this.#options.defaultTimeoutMs ?? 10_000,
      attempts: 0,
    };
    if (balanceKey !== undefined) call.balanceKey = balanceKey;
    if (options.node !== undefined) call.targetNode = options.node;
    if (receipt !== undefined) call.receipt = receipt;
    // Written before any interceptor sees the call: the meta is this call's own, made above.
    if (this.#deadlineHooks.length > 0) {
      const deadline = tightestDeadline(this.#deadlineHooks, call, wallClockMs());
      if (deadline !== undefined) meta.deadline = deadline;
    }
    return call;
  }

  #missingService(service: string, version: number): ShoalError {
    if (this.#seenServices.has(serviceKey(service, version))) {
      return new ShoalError('UNAVAILABLE', `no live node serves ${service}@${version} right now`, { sent: false });
    }
    const versions = this.#registry.versionsOf(service);
    if (versions.length > 0) {
      return new ShoalError('NOT_FOUND', `service ${service} has no version ${version}`, { versions });
    }
    return new ShoalError('NOT_FOUND', `unknown service ${service}`);
  }

  /**
   * End of the outbound chain: choose an endpoint and make one attempt. Not async: the attempt's
   * promise gets one .then() rather than an async frame and its own promise.
   */
  #dispatch(call: TrackedCall): Promise<unknown> {
    try {
      return this.#dispatchOrThrow(call);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  #dispatchOrThrow(call: TrackedCall): Promise<unknown> {
    const all = this.#registry.endpoints(call.service, call.version);
    if (all.length === 0) throw this.#missingService(call.service, call.version);
    const endpoints = this.#available(all, call);
    if (endpoints.length === 0) {
      throw new ShoalError('UNAVAILABLE', `every node serving ${serviceKey(call.service, call.version)} is refusing calls (circuits open)`, { sent: false });
    }
    const strategy = this.#strategies.forCall(call.service, call.version, endpoints);
    const chosen = this.#choose(call, endpoints, strategy);
    const id = chosen.id;
    call.attempts++;
    // Only strategies that weigh latency or load need the clock.
    const started = strategy.onEnd === undefined ? 0 : performance.now();
    strategy.onStart?.(id);
    let pending: Promise<unknown>;
    try {
      pending = this.#attempt({ call, endpointId: id, local: chosen.local });
    } catch (err) {
      pending = Promise.reject(err);
    }
    return pending.then(
      (result) => {
        strategy.onEnd?.(id, { latencyMs: performance.now() - started, ok: true });
        const receipt = call.receipt;
        if (receipt !== undefined) receipt.servedBy = id;
        return result;
      },
      (err: unknown) => {
        strategy.onEnd?.(id, { latencyMs: performance.now() - started, ok: false });
        // Made on the first failure: most calls succeed at once and never need the set.
        (call.exclude ??= new Set()).add(id);
        // An answer from the node's handler (a validation error, NOT_FOUND…) still names who gave it.
        const receipt = call.receipt;
        if (receipt !== undefined && reachedNode(err)) receipt.servedBy = id;
        throw err;
      },
    );
  }

  /** The call's own node if it names one, else this node when it serves the call, else the strategy's pick. */
  #choose(call: TrackedCall, endpoints: readonly ServiceEndpoint[], strategy: Strategy): ServiceEndpoint {
    const exclude = call.exclude;
    if (call.targetNode !== undefined) {
      const target = endpoints.find((e) => e.id === call.targetNode && !exclude?.has(e.id));
      if (target) return target;
      throw new ShoalError('UNAVAILABLE', `node ${call.targetNode} does not serve ${serviceKey(call.service, call.version)} right now`, {
        sent: false,
        exhausted: true,
        node: call.targetNode,
      });
    }
    if (this.#options.preferLocal !== false) {
      const local = localEndpoint(endpoints, exclude);
      if (local) return local;
    }
    // Most calls have neither a key nor endpoints to avoid: they build no pick context.
    const key = call.balanceKey;
    const context = exclude !== undefined ? { key, exclude } : key !== undefined ? { key } : undefined;
    const picked = strategy.pick(endpoints, context) as ServiceEndpoint | undefined;
    if (picked) return picked;
    throw new ShoalError('UNAVAILABLE', `no node left to try for ${serviceKey(call.service, call.version)} (tried ${[...(exclude ?? [])].join(', ')})`, {
      sent: false,
      exhausted: true,
    });
  }

  #available(endpoints: readonly ServiceEndpoint[], call: OutboundCall): readonly ServiceEndpoint[] {
    if (this.#endpointFilters.length === 0) return endpoints;
    // Usually every endpoint is available: then the registry's list serves as it is, uncopied.
    let i = 0;
    while (i < endpoints.length && this.#isAvailable(endpoints[i], call)) i++;
    if (i === endpoints.length) return endpoints;
    return endpoints.filter((e) => this.#isAvailable(e, call));
  }

  #isAvailable(endpoint: ServiceEndpoint, call: OutboundCall): boolean {
    for (const plugin of this.#endpointFilters) if (!plugin.endpointAvailable!(endpoint.id, call)) return false;
    return true;
  }

  /** End of the attempt chain: in-process, or over the transport. Not async, to spare a promise per call. */
  #send(attempt: OutboundAttempt): Promise<unknown> {
    try {
      return this.#sendOrThrow(attempt);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  #sendOrThrow(attempt: OutboundAttempt): Promise<unknown> {
    const { call } = attempt;
    const remainingMs = call.meta.deadline === undefined ? call.timeoutMs : call.meta.deadline - wallClockMs();
    if (remainingMs <= 0) throw new ShoalError('TIMEOUT', `deadline passed before calling ${call.service}.${call.action}`);
    if (attempt.local) {
      const inbound: InboundCall = { service: call.service, version: call.version, action: call.action, params: call.params, meta: call.meta, fromNodeId: this.#options.nodeId };
      return withTimeout(this.#options.serveLocal(inbound), remainingMs, `${call.service}.${call.action}`);
    }
    const endpoint = endpointById(this.#registry.endpoints(call.service, call.version), attempt.endpointId);
    if (!endpoint?.address) throw new ShoalError('UNAVAILABLE', `node ${attempt.endpointId} left`, { sent: false });
    return this.#options.transport.request(endpoint.address, encodeCallFrame(call), { timeoutMs: remainingMs, peerName: endpoint.id });
  }
}

/** The tightest of the call's inherited deadline and those the plugins' callDeadline hooks give. */
export function tightestDeadline(hooks: readonly Plugin[], call: OutboundCall, nowMs: number): number | undefined {
  let deadline = call.meta.deadline;
  for (const plugin of hooks) {
    const own = plugin.callDeadline?.(call, nowMs);
    if (own !== undefined && (deadline === undefined || own < deadline)) deadline = own;
  }
  return deadline;
}

/** This node's own endpoint unless already tried; a loop, since it runs on every call. */
function localEndpoint(endpoints: readonly ServiceEndpoint[], exclude: ReadonlySet<string> | undefined): ServiceEndpoint | undefined {
  for (const endpoint of endpoints) if (endpoint.local && (exclude === undefined || !exclude.has(endpoint.id))) return endpoint;
  return undefined;
}

/** Whether a failure is the node's own answer, rather than the node not being reached. */
function reachedNode(err: unknown): boolean {
  return err instanceof ShoalError && err.code !== 'UNAVAILABLE' && err.code !== 'TIMEOUT' && err.code !== 'CIRCUIT_OPEN';
}

function endpointById(endpoints: readonly ServiceEndpoint[], id: string): ServiceEndpoint | undefined {
  for (const endpoint of endpoints) if (endpoint.id === id) return endpoint;
  return undefined;
}

function stringOrUndefined(value: unknown): string | undefined {
  return typeof value === 'string' || typeof value === 'number' ? String(value) : undefined;
}

function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ShoalError('TIMEOUT', `${what} took longer than ${Math.round(ms)} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
