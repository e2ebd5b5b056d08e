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
import type { ServiceBroker } from './broker.ts';

export interface CallContextFields {
  service: string;
  version: number;
  action: string | undefined;
  meta: CallMeta;
  logger: Logger;
  kv: KeyValueStore;
  /** Added by higher layers (e.g. `data`), shared by every context of the process. */
  extensions?: Partial<ContextExtensions>;
}

/**
 * The Context handed to handlers. Calls made through it carry the caller's trace and deadline,
 * so a request's whole tree of calls is one trace and never outlives the request.
 */
// The class gets the extension fields at run time (Object.assign below); this tells TypeScript.
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging, @typescript-eslint/no-empty-object-type
export interface CallContext extends ContextExtensions {}
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class CallContext implements Context {
  readonly nodeId: string;
  readonly service: string;
  readonly version: number;
  readonly action?: string;
  readonly meta: CallMeta;
  readonly kv: KeyValueStore;
  private readonly broker: ServiceBroker;
  private readonly baseLogger: Logger;
  private childLogger?: Logger;

  constructor(broker: ServiceBroker, fields: CallContextFields) {
    this.broker = broker;
    this.nodeId = broker.nodeId;
    this.service = fields.service;
    this.version = fields.version;
    if (fields.action !== undefined) this.action = fields.action;
    this.meta = fields.meta;
    this.kv = fields.kv;
    this.baseLogger = fields.logger;
    if (fields.extensions) Object.assign(this, fields.extensions);
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

  private callOptions(options: CallOptions): { timeoutMs?: number; balanceKey?: string; meta: Partial<CallMeta> } {
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
