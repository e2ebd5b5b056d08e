import { setTimeout as sleep } from 'node:timers/promises';
import type { Coordinator } from '../../control/index.ts';
import type { Logger } from '../../core/index.ts';
import { ServiceBroker } from '../../runtime/index.ts';
import type { Transport } from '../../transport/index.ts';
import { ShardMapCache } from '../map/map-cache.ts';
import type { CollectionDefinition, JsonDocument } from '../types.ts';
import type { CollectionClient } from './collection-client.ts';
import { DataRouter, type AnyCollectionDefinition } from './data-router.ts';

/**
 * The drivers a data client reaches the cluster through: what `connect()` (src/cluster)
 * returns. The data layer never picks a driver itself.
 */
export interface DataClientConnection {
  readonly nodeId: string;
  readonly coordinator: Coordinator;
  readonly transport: Transport;
  readonly logger: Logger;
}

export interface DataClientOptions {
  collections: readonly AnyCollectionDefinition[];
  /** Per-call limit in ms (default 10 s). */
  timeoutMs?: number;
}

export interface DataClient {
  readonly router: DataRouter;
  /** The client's broker, for admin calls such as `$data.hotSlots`. */
  readonly broker: ServiceBroker;
  collection<Doc extends JsonDocument>(def: CollectionDefinition<Doc>): CollectionClient<Doc>;
  /** Leaves the cluster and closes the connection's transport; the connection's coordinator stays the caller's to close. */
  close(): Promise<void>;
}

/**
 * The data store from a process outside the cluster (a script, a benchmark): it joins as a
 * gateway-role member that serves nothing, follows the shard map and calls shard leaders directly.
 */
export async function createDataClient(connection: DataClientConnection, options: DataClientOptions): Promise<DataClient> {
  const { logger, coordinator } = connection;
  const broker = new ServiceBroker({
    nodeId: connection.nodeId,
    role: 'gateway',
    transport: connection.transport,
    coordinator,
    logger,
    defaultTimeoutMs: options.timeoutMs ?? 10_000,
  });
  const maps = new ShardMapCache(coordinator, { logger });
  try {
    await broker.start();
    await maps.start();
    // The member list arrives by watch; until it does every shard leader looks unknown.
    const until = Date.now() + (options.timeoutMs ?? 10_000);
    while (broker.registry.endpoints('$data', 1).length === 0 && Date.now() < until) await sleep(20);
  } catch (err) {
    maps.close();
    await broker.stop().catch(() => undefined);
    throw err;
  }
  const router = new DataRouter({ caller: broker, maps, collections: options.collections, logger });
  return {
    router,
    broker,
    collection: (def) => router.collection(def),
    async close() {
      maps.close();
      await broker.stop();
    },
  };
}
