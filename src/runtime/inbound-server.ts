import { collectInterceptors, composeChain, concealUnexpected, ShoalError, type InboundCall, type Next, type Plugin } from '../core/index.ts';
import type { ContextFactory } from './context-factory.ts';
import type { LocalServices } from './local-services.ts';
import { callScope } from './call-scope.ts';
import { parseCallFrame } from './wire.ts';

export type InboundState = 'open' | 'closed';

/**
 * Serves calls for this process's services, from peers and from this process itself: runs each
 * through the inbound hook chain to the handler, and counts the calls in flight so a stopping
 * node can wait for them.
 */
export class InboundServer {
  /** The inbound chain ending in the handler; calls this node routes to itself enter here too. */
  readonly chain: Next<InboundCall, unknown>;
  readonly #nodeId: string;
  readonly #local: LocalServices;
  readonly #contexts: ContextFactory;
  #inflight = 0;
  #state: InboundState = 'open';

  constructor(nodeId: string, local: LocalServices, contexts: ContextFactory, plugins: readonly Plugin[]) {
    this.#nodeId = nodeId;
    this.#local = local;
    this.#contexts = contexts;
    this.chain = composeChain(collectInterceptors(plugins, 'inboundCall'), (call) => this.#serve(call));
  }

  get inflight(): number {
    return this.#inflight;
  }

  /** A call frame from a peer. Not async: a rejected promise, not a throw, for a bad frame. */
  onPeerRequest(payload: unknown, fromNodeId: string): Promise<unknown> {
    try {
      const call = parseCallFrame(payload, fromNodeId);
      if (this.#state === 'closed') throw new ShoalError('UNAVAILABLE', `node ${this.#nodeId} is stopped`, { sent: false });
      return this.chain(call);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Waits until no call is in flight or the time is up, whichever comes first. */
  async drain(untilMs: number): Promise<void> {
    while (this.#inflight > 0 && Date.now() < untilMs) await new Promise((r) => setTimeout(r, 20));
  }

  /** Refuses calls from now on (the node has stopped). */
  close(): void {
    this.#state = 'closed';
  }

  /**
   * End of the inbound chain: validate and run the handler. Not async: a handler that answers
   * synchronously costs no extra promise turn, and one that returns a promise gets one shared
   * pair of callbacks rather than an async frame per call.
   */
  #serve(call: InboundCall): Promise<unknown> {
    this.#inflight++;
    let result: unknown;
    try {
      const ctx = this.#contexts.create(call.service, call.version, call.action, call.meta);
      result = callScope.run(call.meta, invokeHandler, this.#local, call, ctx);
    } catch (err) {
      this.#inflight--;
      return Promise.reject(concealUnexpected(err));
    }
    if (isThenable(result)) return Promise.resolve(result).then(this.#servedValue, this.#servedError);
    this.#inflight--;
    return Promise.resolve(result);
  }

  readonly #servedValue = (value: unknown): unknown => {
    this.#inflight--;
    return value;
  };

  /** A handler's own bug reaches its caller as INTERNAL with an error id, never its message (it may name hosts, paths, SQL). */
  readonly #servedError = (err: unknown): never => {
    this.#inflight--;
    throw concealUnexpected(err);
  };
}

/** Outside the class so that running a handler in its call's scope needs no closure per call. */
function invokeHandler(local: LocalServices, call: InboundCall, ctx: ReturnType<ContextFactory['create']>): unknown {
  return local.invoke(call.service, call.version, call.action, call.params, ctx);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as PromiseLike<unknown>).then === 'function';
}
