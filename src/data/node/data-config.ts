import type { Coordinator } from '../../control/index.ts';
import type { Logger } from '../../core/index.ts';
import type { RebalancerOptions } from '../rebalance/rebalancer.ts';
import type { AnyCollectionDefinition } from '../router/data-router.ts';
import { withBuiltinCollections } from '../chaos-collection.ts';
import { DataHost } from './data-host.ts';

/** The data store's part of `shoal.config.ts` (besides `collections`). */
export interface DataConfig {
  /** Placement groups per node id: `{ 'node-3': ['analytics'] }`. */
  groups?: Record<string, string[]>;
  rebalancer?: Partial<Pick<RebalancerOptions, 'deadAfterMs' | 'rangeSize' | 'pageSize' | 'pagePauseMs'>>;
  /**
   * Replicas per shard, on distinct nodes (and zones, while there are enough): default 3, or
   * every data node when there are fewer. A write is acknowledged once a majority has it durable.
   */
  replicas?: number;
  /** Milliseconds a node may be missing before its replicas are rebuilt on other nodes (default 120 000). */
  replicaTimeout?: number;
  /** Time a node being removed spends moving its slots away before it stops anyway (default 20 s, inside the supervisor's 30 s stop grace). */
  drainTimeoutMs?: number;
}

/** Replicas per shard unless the config says otherwise. */
export const DEFAULT_REPLICAS = 3;

/** A node's DataHost when the config declares collections; undefined otherwise (the node stores nothing). */
export function dataHostFromConfig(options: {
  nodeId: string;
  dir: string;
  coordinator: Coordinator;
  logger: Logger;
  /** The node's failure domain (`shoal up --zones`), for spreading replicas. */
  zone?: string;
  config: { collections?: readonly AnyCollectionDefinition[]; data?: DataConfig };
}): DataHost | undefined {
  const { config } = options;
  if (!config.collections || config.collections.length === 0) return undefined;
  return new DataHost({
    nodeId: options.nodeId,
    ...(options.zone !== undefined ? { zone: options.zone } : {}),
    dir: options.dir,
    coordinator: options.coordinator,
    collections: withBuiltinCollections(config.collections),
    groups: config.data?.groups?.[options.nodeId] ?? [],
    logger: options.logger,
    rebalancer: {
      ...config.data?.rebalancer,
      replicas: config.data?.replicas ?? DEFAULT_REPLICAS,
      ...(config.data?.replicaTimeout !== undefined ? { deadAfterMs: config.data.replicaTimeout } : {}),
    },
  });
}

/** How long DataHost.drain() may take on a planned stop. */
export function drainTimeoutOf(config: { data?: DataConfig }): number {
  return config.data?.drainTimeoutMs ?? 20_000;
}
