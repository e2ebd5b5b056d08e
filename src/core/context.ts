import type { CallMeta } from './hooks.ts';
import type { Logger } from './logger.ts';
import type { ActionNames, AnyService, ParamsOf, ResultOf } from './service.ts';

export interface CallOptions {
  /** Target version when calling by name (default 1). */
  version?: number;
  timeoutMs?: number;
  /** Overrides the hash key for sticky balancing. */
  balanceKey?: string;
}

export interface StoredValue {
  value: unknown;
  version: number;
}

/**
 * The application's view of the cluster's key-value store (the coordinator's, namespaced per
 * application). Consistent across nodes; meant for small state.
 */
export interface KeyValueStore {
  get(key: string): Promise<StoredValue | undefined>;
  /** With expectVersion, compare-and-set (0 = must be absent): CONFLICT on mismatch. */
  put(key: string, value: unknown, options?: { expectVersion?: number }): Promise<StoredValue>;
  delete(key: string): Promise<boolean>;
  list(prefix: string): Promise<Array<{ key: string } & StoredValue>>;
}

/**
 * Parts of the context that higher layers add (the data store adds `data`) by declaration
 * merging, so core names none of them.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface ContextExtensions {}

/** What a handler sees: who it is, the call's metadata, and the way to reach the rest of the cluster. */
export interface Context extends ContextExtensions {
  readonly nodeId: string;
  readonly service: string;
  readonly version: number;
  readonly action?: string;
  readonly meta: CallMeta;
  readonly logger: Logger;
  readonly kv: KeyValueStore;
  /** Calls an action of a service definition, typed from it: `ctx.call(links, 'create', { url })`. */
  call<S extends AnyService, A extends ActionNames<S>>(
    service: S,
    action: A,
    params: ParamsOf<S, A>,
    options?: CallOptions,
  ): Promise<ResultOf<S, A>>;
  /** Calls `service.action` by name, for services this code does not import. */
  callByName(target: string, params: unknown, options?: CallOptions): Promise<unknown>;
  /** Delivers to one instance of each subscribing service. */
  emit(event: string, payload: unknown): Promise<void>;
  /** Delivers to every instance of every subscribing service. */
  broadcast(event: string, payload: unknown): Promise<void>;
}
