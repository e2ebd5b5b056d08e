/**
 * One hook chain for calls, events and lifecycle. As in Temporal's interceptors, inbound
 * (work arriving at this process) and outbound (work leaving it) are separate chains, so a
 * plugin that times outgoing calls never sees incoming ones by accident. Built-in features —
 * timeouts, retries, circuit breaking, logging, metrics, tracing — are plugins like any other.
 *
 * Hook inputs are readonly: a plugin that wants the rest of the chain to see something else
 * hands `next` a new object (as tracing does with a call's trace context), or uses a hook made
 * for the purpose (`callDeadline`), so no plugin changes what another one, or the caller, holds.
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
  readonly service: string;
  readonly version: number;
  readonly action: string;
  readonly params: unknown;
  readonly meta: Readonly<CallMeta>;
}

/** Where the broker reports which node answered a call, for a caller that asks (the gateway). */
export interface CallReceipt {
  servedBy?: string;
}

/** A call leaving this process, before an endpoint is chosen. */
export interface OutboundCall extends CallRequest {
  /** From the target action's declaration: safe to repeat on another endpoint. */
  readonly idempotent: boolean;
  readonly timeoutMs: number;
  /** Hash key for sticky balancing, taken from params by the service's balanceKey. */
  readonly balanceKey?: string;
  /** A node the call must go to (data placed there), bypassing the balancer. */
  readonly targetNode?: string;
  /**
   * Endpoints this call already tried without success, which a retry avoids. Kept by the broker
   * (plugins read it) and made on the first failure, since most calls never need it.
   */
  readonly exclude?: ReadonlySet<string>;
  /** Attempts made so far (0 before the first); kept by the broker. */
  readonly attempts: number;
  /** Present when the caller wants to know which node answered; the broker fills it in. */
  readonly receipt?: CallReceipt;
}

/** One try of an outbound call against one chosen endpoint. */
export interface OutboundAttempt {
  readonly call: OutboundCall;
  readonly endpointId: string;
  readonly local: boolean;
}

/** A call arriving at this process for one of its services. */
export interface InboundCall extends CallRequest {
  readonly fromNodeId?: string;
}

export interface EventMessage {
  readonly event: string;
  readonly payload: unknown;
  readonly meta: Readonly<CallMeta>;
  /** emit: one instance per subscribing service; broadcast: every instance. */
  readonly mode: 'emit' | 'broadcast';
  /** Set on inbound delivery: the subscribing service that receives it. */
  readonly target?: { readonly service: string; readonly version: number };
}

export interface NodeInfo {
  readonly nodeId: string;
  readonly services: readonly AnyService[];
}

export type Next<Input, Output> = (input: Input) => Promise<Output>;
export type Interceptor<Input, Output> = (input: Input, next: Next<Input, Output>) => Promise<Output>;

export interface Plugin {
  /** Unique among the plugins of one process; what other plugins name in `dependencies`. */
  readonly name: string;
  /** Plugins that must be registered before this one (as in Fastify), checked at registration. */
  readonly dependencies?: readonly string[];
  /** Around a logical call leaving this process: all of its attempts. */
  outboundCall?: Interceptor<OutboundCall, unknown>;
  /** Around one attempt to one endpoint. */
  outboundAttempt?: Interceptor<OutboundAttempt, unknown>;
  /** Around a call this process serves, before params validation and the handler. */
  inboundCall?: Interceptor<InboundCall, unknown>;
  outboundEvent?: Interceptor<EventMessage, void>;
  inboundEvent?: Interceptor<EventMessage, void>;
  /**
   * An absolute deadline (ms since epoch) for a call about to leave, or undefined for none. The
   * broker keeps the tightest of these and the caller's own, and writes it into the call's meta
   * before the outbound chain runs: a value returned, not a field set, so no plugin writes into
   * meta that the caller still holds.
   */
  callDeadline?: (call: OutboundCall, nowMs: number) => number | undefined;
  /** Vetoes an endpoint for a call, e.g. while its circuit is open. */
  endpointAvailable?: (endpointId: string, call: OutboundCall) => boolean;
  nodeStarting?: (info: NodeInfo) => void | Promise<void>;
  nodeStarted?: (info: NodeInfo) => void | Promise<void>;
  nodeStopping?: (info: NodeInfo) => void | Promise<void>;
  serviceStarted?: (service: AnyService, info: NodeInfo) => void | Promise<void>;
}

/**
 * The plugins of one process, in registration order. Registering checks what a misconfigured
 * chain would otherwise only show at run time: two plugins claiming one name, or a plugin placed
 * before one it relies on (its hooks would wrap the other's the wrong way round, or find it absent).
 */
export class PluginRegistry<P extends Plugin = Plugin> {
  readonly #plugins: P[] = [];
  readonly #names = new Set<string>();

  constructor(plugins: readonly P[] = []) {
    for (const plugin of plugins) this.register(plugin);
  }

  register(plugin: P): this {
    const name = plugin.name;
    if (typeof name !== 'string' || name === '') throw new Error('a plugin needs a name');
    if (this.#names.has(name)) throw new Error(`plugin "${name}" is registered twice`);
    for (const dependency of plugin.dependencies ?? []) {
      if (!this.#names.has(dependency)) {
        throw new Error(`plugin "${name}" depends on "${dependency}", which is not registered; register "${dependency}" before "${name}"`);
      }
    }
    this.#names.add(name);
    this.#plugins.push(plugin);
    return this;
  }

  has(name: string): boolean {
    return this.#names.has(name);
  }

  /** The plugins in registration order. */
  list(): readonly P[] {
    return this.#plugins;
  }
}

/**
 * A copy of a hook input with other metadata, to hand to `next` (inputs are readonly, and the
 * original may be the caller's). One shallow copy: the rest of the input is shared, not cloned.
 */
export function withMeta<T extends { readonly meta: Readonly<CallMeta> }>(input: T, meta: Readonly<CallMeta>): T {
  return { ...input, meta };
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
