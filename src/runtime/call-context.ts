import type {
  ContextExtensions,
  ActionNames,
  AnyService,
  CallMeta,
  CallOptions,
  Context,
  KeyValueStore,
  Logger,
  ParamsOf,
  ResultOf,
} from '../core/index.ts';
import { ShoalError } from '../core/index.ts';
import type { CallByNameOptions, ServiceCaller } from './facade.ts';

/** What a handler's context reaches the cluster through. */
export interface ContextBroker extends ServiceCaller {
  readonly nodeId: string;
  emit(event: string, payload: unknown, mode: 'emit' | 'broadcast', meta: CallMeta): Promise<void>;
  newRequestId(): string;
}

/** What every context made by one broker shares; built once, not per call. */
export interface ContextShared {
  broker: ContextBroker;
  logger: Logger;
  kv: KeyValueStore;
}

/**
 * The Context handed to handlers. Calls made through it carry the caller's trace and deadline,
 * so a request's whole tree of calls is one trace and never outlives the request.
 */
// Contexts get the extension fields at run time (contextClassWith below); this tells TypeScript.
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging, @typescript-eslint/no-empty-object-type
export interface CallContext extends ContextExtensions {}
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class CallContext implements Context {
  readonly nodeId: string;
  readonly service: string;
  readonly version: number;
  readonly action?: string;
  readonly meta: Readonly<CallMeta>;
  readonly kv: KeyValueStore;
  private readonly broker: ContextBroker;
  private readonly baseLogger: Logger;
  private childLogger?: Logger;

  constructor(shared: ContextShared, service: string, version: number, action: string | undefined, meta: Readonly<CallMeta>) {
    this.broker = shared.broker;
    this.nodeId = shared.broker.nodeId;
    this.service = service;
    this.version = version;
    if (action !== undefined) this.action = action;
    this.meta = meta;
    this.kv = shared.kv;
    this.baseLogger = shared.logger;
  }

  /** Created on first use: most handlers never log. */
  get logger(): Logger {
    this.childLogger ??= this.baseLogger.child({
      service: this.service,
      version: this.version,
      ...(this.action ? { action: this.action } : {}),
      ...(this.meta.traceparent ? { traceId: this.meta.traceparent.split('-')[1] } : {}),
    });
    return this.childLogger;
  }

  call<S extends AnyService, A extends ActionNames<S>>(
    service: S,
    action: A,
    params: ParamsOf<S, A>,
    options: CallOptions = {},
  ): Promise<ResultOf<S, A>> {
    return this.broker.call(service.name, service.version, action, params, this.callOptions(options)) as Promise<ResultOf<S, A>>;
  }

  callByName(target: string, params: unknown, options: CallOptions = {}): Promise<unknown> {
    const dot = target.lastIndexOf('.');
    if (dot <= 0) return Promise.reject(new ShoalError('BAD_REQUEST', `call target must be "service.action", got ${JSON.stringify(target)}`));
    return this.broker.call(target.slice(0, dot), options.version ?? 1, target.slice(dot + 1), params, this.callOptions(options));
  }

  emit(event: string, payload: unknown): Promise<void> {
    return this.broker.emit(event, payload, 'emit', this.childMeta());
  }

  broadcast(event: string, payload: unknown): Promise<void> {
    return this.broker.emit(event, payload, 'broadcast', this.childMeta());
  }

  private callOptions(options: CallOptions): CallByNameOptions {
    return {
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
      ...(options.balanceKey !== undefined ? { balanceKey: options.balanceKey } : {}),
      meta: this.childMeta(),
    };
  }

  private childMeta(): CallMeta {
    const meta: CallMeta = { requestId: this.broker.newRequestId(), callerNodeId: this.nodeId };
    if (this.meta.traceparent) meta.traceparent = this.meta.traceparent;
    if (this.meta.tracestate) meta.tracestate = this.meta.tracestate;
    if (this.meta.deadline !== undefined) meta.deadline = this.meta.deadline;
    return meta;
  }
}

/**
 * The context class for a broker: with extensions, a subclass carrying them on its prototype, so
 * every context has them without copying them into each one per call.
 */
export function contextClassWith(extensions: Partial<ContextExtensions> | undefined): typeof CallContext {
  if (extensions === undefined) return CallContext;
  class ExtendedCallContext extends CallContext {}
  Object.assign(ExtendedCallContext.prototype, extensions);
  return ExtendedCallContext;
}
