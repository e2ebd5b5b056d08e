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
  /** Time a node being removed spends moving its slots away before it stops anyway (default 20 s, inside the supervisor's 30 s stop grace). */
  drainTimeoutMs?: number;
}

/** A node's DataHost when the config declares collections; undefined otherwise (the node stores nothing). */
export function dataHostFromConfig(options: {
  nodeId: string;
  dir: string;
  coordinator: Coordinator;
  logger: Logger;
  config: { collections?: readonly AnyCollectionDefinition[]; data?: DataConfig };
}): DataHost | undefined {
  const { config } = options;
  if (!config.collections || config.collections.length === 0) return undefined;
  return new DataHost({
    nodeId: options.nodeId,
    dir: options.dir,
    coordinator: options.coordinator,
    collections: withBuiltinCollections(config.collections),
    groups: config.data?.groups?.[options.nodeId] ?? [],
    logger: options.logger,
    rebalancer: { ...config.data?.rebalancer },
  });
}

/** How long DataHost.drain() may take on a planned stop. */
export function drainTimeoutOf(config: { data?: DataConfig }): number {
  return config.data?.drainTimeoutMs ?? 20_000;
}
