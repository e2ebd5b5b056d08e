import { setTimeout as sleep } from 'node:timers/promises';
import { randomUUID } from 'node:crypto';
import { createEmbeddedCoordinator, type Coordinator } from '../../control/index.ts';
import { silentLogger, type Logger } from '../../core/index.ts';
import { ServiceBroker, type RoutingCaller } from '../../runtime/index.ts';
import { createTcpTransport } from '../../transport/tcp/index.ts';
import { ShardMapCache } from '../map/map-cache.ts';
import type { CollectionDefinition, JsonDocument } from '../types.ts';
import type { CollectionClient } from './collection-client.ts';
import { DataRouter, type AnyCollectionDefinition } from './data-router.ts';

export interface DataClientOptions {
  /** The control plane's URL (e.g. http://127.0.0.1:7450). */
  controlUrl: string;
  /** The cluster secret (the cluster directory's `secret` file). */
  secret: string;
  collections: readonly AnyCollectionDefinition[];
  /** Process id in the cluster (default `data-client-<random>`). */
  clientId?: string;
  logger?: Logger;
  /** Per-call limit in ms (default 10 s). */
  timeoutMs?: number;
}

export interface DataClient {
  readonly router: DataRouter;
  /** The client's broker, for admin calls such as `$data.hotSlots`. */
  readonly broker: RoutingCaller;
  collection<Doc extends JsonDocument>(def: CollectionDefinition<Doc>): CollectionClient<Doc>;
  close(): Promise<void>;
}

/**
 * The data store from a process outside the cluster (a script, a benchmark): it joins as a
 * gateway-role member that serves nothing, follows the shard map and calls shard leaders directly.
 */
export async function createDataClient(options: DataClientOptions): Promise<DataClient> {
  const logger = options.logger ?? silentLogger;
  const nodeId = options.clientId ?? `data-client-${randomUUID().slice(0, 8)}`;
  const coordinator: Coordinator = createEmbeddedCoordinator({ url: options.controlUrl, secret: options.secret, logger });
  const broker = new ServiceBroker({
    nodeId,
    role: 'gateway',
    transport: createTcpTransport({ nodeId, secret: options.secret, logger }),
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
    await coordinator.close();
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
      await coordinator.close();
    },
  };
}
