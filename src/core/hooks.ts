/**
 * One hook chain for calls, events and lifecycle. As in Temporal's interceptors, inbound
 * (work arriving at this process) and outbound (work leaving it) are separate chains, so a
 * plugin that times outgoing calls never sees incoming ones by accident. Built-in features —
 * timeouts, retries, circuit breaking, logging, metrics, tracing — are plugins like any other.
 */
import type { AnyService } from './service.ts';

export interface CallMeta {
  /** Unique per logical call; kept across retries. */
  requestId: string;
  /** W3C trace context of the caller's span. */
  traceparent?: string;
  tracestate?: string;
  /** Node that sent the call (undefined for calls entering from outside the cluster). */
  callerNodeId?: string;
  /** Absolute deadline, ms since epoch; work past it is abandoned. */
  deadline?: number;
}

export interface CallRequest {
  service: string;
  version: number;
  action: string;
  params: unknown;
  meta: CallMeta;
}

/** A call leaving this process, before an endpoint is chosen. */
export interface OutboundCall extends CallRequest {
  /** From the target action's declaration: safe to repeat on another endpoint. */
  idempotent: boolean;
  timeoutMs: number;
  /** Hash key for sticky balancing, taken from params by the service's balanceKey. */
  balanceKey?: string;
  /** A node the call must go to (data placed there), bypassing the balancer. */
  targetNode?: string;
  /**
   * Endpoints this call already tried without success, which a retry avoids. Created on the first
   * failure, since most calls never need it.
   */
  exclude?: Set<string>;
  /** Attempts made so far (0 before the first). */
  attempts: number;
  /** Node that answered, set once an attempt succeeds (the gateway reports it). */
  servedBy?: string;
}

/** One try of an outbound call against one chosen endpoint. */
export interface OutboundAttempt {
  call: OutboundCall;
  endpointId: string;
  local: boolean;
}

/** A call arriving at this process for one of its services. */
export interface InboundCall extends CallRequest {
  fromNodeId?: string;
}

export interface EventMessage {
  event: string;
  payload: unknown;
  meta: CallMeta;
  /** emit: one instance per subscribing service; broadcast: every instance. */
  mode: 'emit' | 'broadcast';
  /** Set on inbound delivery: the subscribing service that receives it. */
  target?: { service: string; version: number };
}

export interface NodeInfo {
  nodeId: string;
  services: readonly AnyService[];
}

export type Next<Input, Output> = (input: Input) => Promise<Output>;
export type Interceptor<Input, Output> = (input: Input, next: Next<Input, Output>) => Promise<Output>;

export interface Plugin {
  readonly name: string;
  /** Around a logical call leaving this process: all of its attempts. */
  outboundCall?: Interceptor<OutboundCall, unknown>;
  /** Around one attempt to one endpoint. */
  outboundAttempt?: Interceptor<OutboundAttempt, unknown>;
  /** Around a call this process serves, before params validation and the handler. */
  inboundCall?: Interceptor<InboundCall, unknown>;
  outboundEvent?: Interceptor<EventMessage, void>;
  inboundEvent?: Interceptor<EventMessage, void>;
  /** Vetoes an endpoint for a call, e.g. while its circuit is open. */
  endpointAvailable?: (endpointId: string, call: OutboundCall) => boolean;
  nodeStarting?: (info: NodeInfo) => void | Promise<void>;
  nodeStarted?: (info: NodeInfo) => void | Promise<void>;
  nodeStopping?: (info: NodeInfo) => void | Promise<void>;
  serviceStarted?: (service: AnyService, info: NodeInfo) => void | Promise<void>;
}

/**
 * Folds interceptors around a terminal step, first one outermost. Built once at start, so a
 * call pays only the function calls, not the composition.
 */
export function composeChain<Input, Output>(
  interceptors: ReadonlyArray<Interceptor<Input, Output>>,
  terminal: Next<Input, Output>,
): Next<Input, Output> {
  let next = terminal;
  for (let i = interceptors.length - 1; i >= 0; i--) {
    const interceptor = interceptors[i];
    const inner = next;
    next = (input) => interceptor(input, inner);
  }
  return next;
}

/** Picks one hook kind from every plugin that has it, in plugin order. */
export function collectInterceptors<K extends 'outboundCall' | 'outboundAttempt' | 'inboundCall' | 'outboundEvent' | 'inboundEvent'>(
  plugins: readonly Plugin[],
  kind: K,
): Array<NonNullable<Plugin[K]>> {
  const found: Array<NonNullable<Plugin[K]>> = [];
  for (const plugin of plugins) {
    const hook = plugin[kind];
    if (hook) found.push(hook.bind(plugin) as NonNullable<Plugin[K]>);
  }
  return found;
}

/** Runs a lifecycle hook on every plugin in order; a failing hook stops the node from starting. */
export async function runLifecycle<K extends 'nodeStarting' | 'nodeStarted' | 'nodeStopping'>(
  plugins: readonly Plugin[],
  kind: K,
  info: NodeInfo,
): Promise<void> {
  for (const plugin of plugins) await plugin[kind]?.(info);
}
