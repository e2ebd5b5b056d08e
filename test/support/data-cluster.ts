/**
 * In-process data clusters for integration tests: a coordinator server plus data nodes
 * (brokers hosting `$data` with SQLite shards in a temp dir) and a gateway-role client broker,
 * all on loopback in this process.
 */
import { DataHost, DataRouter, ShardMapCache, MOVES_PREFIX, type AnyCollectionDefinition, type RebalancerOptions, type ShardMap } from '../../src/data/index.ts';
import type { AnyService } from '../../src/core/index.ts';
import type { ServiceBroker } from '../../src/runtime/index.ts';
import { eventually } from './eventually.ts';
import { RuntimeHarness } from './runtime-harness.ts';

export interface DataNodeHandle {
  id: string;
  broker: ServiceBroker;
  host: DataHost;
}

export interface DataClusterOptions {
  collections: AnyCollectionDefinition[];
  rebalancer?: Partial<RebalancerOptions>;
}

export class DataCluster {
  readonly harness = new RuntimeHarness();
  readonly nodes = new Map<string, DataNodeHandle>();
  private readonly options: DataClusterOptions;
  private readonly caches: ShardMapCache[] = [];
  private readonly coordinator;

  constructor(options: DataClusterOptions) {
    this.options = options;
    this.coordinator = () => this.harness.coordinator();
  }

  async start(nodeIds: string[]): Promise<void> {
    await this.harness.start();
    for (const id of nodeIds) await this.addNode(id);
  }

  /** A data node; `services` run beside `$data` with `ctx.data` bound to this node's router. */
  async addNode(id: string, groups: string[] = [], services: AnyService[] = []): Promise<DataNodeHandle> {
    const host = new DataHost({
      nodeId: id,
      dir: this.harness.dir,
      coordinator: this.harness.coordinator(),
      collections: this.options.collections,
      groups,
      memberTtlMs: 1_000,
      rebalancer: { deadAfterMs: 5_000, pagePauseMs: 1, leaseTtlMs: 1_500, ...this.options.rebalancer },
    });
    const broker = await this.harness.broker(id, [host.service, ...services], { contextExtensions: host.contextExtensions() });
    await host.start(broker);
    const handle = { id, broker, host };
    this.nodes.set(id, handle);
    return handle;
  }

  /** Graceful leave: the node's slots move away first, then it stops. */
  async removeNode(id: string): Promise<void> {
    const node = this.nodes.get(id);
    if (!node) throw new Error(`no node ${id}`);
    const { drained } = await node.host.drain(60_000);
    if (!drained) throw new Error(`${id} did not drain`);
    await node.broker.stop();
    await node.host.stop();
    this.nodes.delete(id);
  }

  /** A router in a gateway-role broker that hosts nothing, as an outside caller would have. */
  async router(id = 'client'): Promise<{ router: DataRouter; broker: ServiceBroker; maps: ShardMapCache }> {
    const broker = await this.harness.broker(id, [], { listen: false, role: 'gateway' });
    const maps = new ShardMapCache(this.harness.coordinator());
    await maps.start();
    this.caches.push(maps);
    await this.harness.waitForEndpoints(broker, '$data', 1, this.nodes.size);
    return { router: new DataRouter({ caller: broker, maps, collections: this.options.collections }), broker, maps };
  }

  /** Resolves once the map spreads every placement evenly over the live nodes and no move is in flight. */
  async waitBalanced(timeoutMs = 60_000): Promise<ShardMap> {
    const coordinator = this.coordinator();
    const maps = new ShardMapCache(coordinator);
    try {
      // Not balanced yet is thrown, so a timeout quotes the last map seen.
      return await eventually(
        async () => {
          const map = await maps.refresh();
          const holdings = map.shardsOf('*');
          const counts = holdings.map((h) => h.slots.length);
          const onLive = holdings.every((h) => this.nodes.has(h.node));
          const moves = (await coordinator.list(MOVES_PREFIX)).entries.length;
          if (holdings.length === this.nodes.size && onLive && moves === 0 && Math.max(...counts) - Math.min(...counts) <= 1) return map;
          throw new Error(`map v${map.version} ${JSON.stringify(holdings.map((h) => [h.node, h.slots.length]))}, ${moves} move(s) in flight`);
        },
        { message: 'the shard map to be balanced over the live nodes', timeoutMs, intervalMs: 50 },
      );
    } finally {
      maps.close();
    }
  }

  async stop(): Promise<void> {
    for (const maps of this.caches) maps.close();
    for (const node of this.nodes.values()) {
      await node.broker.stop().catch(() => undefined);
      await node.host.stop().catch(() => undefined);
    }
    await this.harness.stop();
  }
}
