import type { Coordinator } from '../../control/index.ts';
import { ShoalError, type Logger } from '../../core/index.ts';
import { waitForEndpoint, type RoutingCaller } from '../../runtime/index.ts';
import { ShardMapCache } from '../map/map-cache.ts';
import type { CollectionDefinition, JsonDocument } from '../types.ts';
import type { CollectionClient } from './collection-client.ts';
import { DataRouter, type AnyCollectionDefinition } from './data-router.ts';

/**
 * What a data client reaches the cluster through: what `connect()` (src/cluster) returns. The
 * data layer never picks a driver or builds a broker itself.
 */
export interface DataClientConnection {
  readonly coordinator: Coordinator;
  readonly caller: RoutingCaller;
  readonly logger: Logger;
}

export interface DataClientOptions {
  collections: readonly AnyCollectionDefinition[];
  /** How long to wait for the first data node to be known (default 10 s). */
  timeoutMs?: number;
}

export interface DataClient {
  readonly router: DataRouter;
  /** The connection's caller, for admin calls such as `$data.hotSlots`. */
  readonly broker: RoutingCaller;
  collection<Doc extends JsonDocument>(def: CollectionDefinition<Doc>): CollectionClient<Doc>;
  /** Stops following the shard map; the connection stays the caller's to close. */
  close(): void;
}

/**
 * The data store from a process outside the cluster (a script, a benchmark): it follows the
 * shard map and calls shard leaders directly, through the connection's member.
 */
export async function createDataClient(connection: DataClientConnection, options: DataClientOptions): Promise<DataClient> {
  const { logger, coordinator, caller } = connection;
  const maps = new ShardMapCache(coordinator, { logger });
  try {
    await maps.start();
    // The member list arrives by watch; until it does every shard leader looks unknown.
    const timeoutMs = options.timeoutMs ?? 10_000;
    if (!(await waitForEndpoint(caller.registry, '$data', 1, { timeoutMs }))) {
      throw new ShoalError('UNAVAILABLE', `no data node is known after ${timeoutMs} ms (is the cluster running with collections?)`);
    }
  } catch (err) {
    maps.close();
    throw err;
  }
  const router = new DataRouter({ caller, maps, collections: options.collections, logger });
  return {
    router,
    broker: caller,
    collection: (def) => router.collection(def),
    close: () => maps.close(),
  };
}
