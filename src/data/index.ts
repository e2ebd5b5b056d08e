/**
 * The sharded document store. Storage: collections, slots, the ShardEngine contract and its
 * SQLite driver, query checking and merging. Distribution: the shard map, the router behind
 * `ctx.data` and `createDataClient`, the `$data` service nodes host, and the rebalancer.
 */
export * from './types.ts';
export { defineCollection, collectionSpec, documentRefOf, validateDocument, DEFAULT_MAX_DOCUMENT_BYTES } from './collection.ts';
export { slotOf } from './slots.ts';
export { chaosCollection, CHAOS_COLLECTION, withBuiltinCollections, type ChaosDocument } from './chaos-collection.ts';
export { SqliteShardEngine } from './sqlite/index.ts';
export { mergeShardResults } from './query/index.ts';

export { ShardMap, DEFAULT_PLACEMENT, placementOf, type ShardMapData, type ShardRecord, type SlotRange } from './map/shard-map.ts';
export { ShardMapCache } from './map/map-cache.ts';
export { MAP_KEY, REBALANCER_KEY, REBALANCE_REQUEST_KEY, REBALANCE_PROGRESS_KEY, MOVES_PREFIX, DATA_NODES_PREFIX, LEADER_REQUESTS_PREFIX } from './map/keys.ts';
export { redirectOf } from './map/redirect.ts';
export { DataRouter, type AnyCollectionDefinition, type DataCaller, type DataRouterOptions } from './router/data-router.ts';
export { CollectionClient, type Versioned, type DocumentAddress, type ScanOptions } from './router/collection-client.ts';
export { createDataClient, type DataClient, type DataClientConnection, type DataClientOptions } from './router/data-client.ts';
export { DataHost, type DataHostOptions } from './node/data-host.ts';
export { dataHostFromConfig, drainTimeoutOf, type DataConfig } from './node/data-config.ts';
export { rebalanceStatus, type ShardReplication } from './node/data-admin.ts';
export type { ReplicaReport } from './node/replica-ops.ts';
export { sqliteStore, type ShardStore } from './node/engines.ts';
export { Rebalancer, type RebalancerOptions } from './rebalance/rebalancer.ts';
export type { RebalanceProgress, RebalanceRequest } from './rebalance/progress.ts';
export type { MoveRecord, MovePhase } from './rebalance/move-record.ts';

import type { AnyCollectionDefinition, DataRouter } from './router/data-router.ts';
import type { DataConfig } from './node/data-config.ts';

/**
 * Typed names for `ctx.data.<collection>`. An application declares its collections here:
 * `declare module '<path of src/data/index.ts>' { interface DataCollections { links: CollectionClient<Link> } }`
 * Undeclared, `ctx.data.collection(def)` is typed from the definition itself.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface DataCollections {}

declare module '../core/context.ts' {
  /** `ctx.data`: the document store, on every node that hosts data (see DataHost.router). */
  interface ContextExtensions {
    readonly data: DataRouter & DataCollections;
  }
}

declare module '../core/config.ts' {
  interface ConfigExtensions {
    /** Collections of the document store; nodes host shards of them when this is non-empty. */
    collections?: AnyCollectionDefinition[];
    data?: DataConfig;
  }
}
