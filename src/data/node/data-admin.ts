import type { Coordinator } from '../../control/index.ts';
import { REBALANCE_PROGRESS_KEY, REBALANCER_KEY, MOVES_PREFIX } from '../map/keys.ts';
import type { ShardMapCache } from '../map/map-cache.ts';
import type { DataCaller, DataRouter } from '../router/data-router.ts';
import type { ShardOps } from './shard-ops.ts';

export interface HotSlot {
  slot: number;
  shard: number;
  node: string;
  reads: number;
  writes: number;
  documents: number;
}

/** The `$data` admin actions: what `shoal call $data.<action>` and `shoal status` read. */
export class DataAdmin {
  readonly #router: DataRouter;
  readonly #maps: ShardMapCache;
  readonly #coordinator: Coordinator;
  readonly #caller: DataCaller;

  constructor(options: { router: DataRouter; maps: ShardMapCache; coordinator: Coordinator; caller: DataCaller; ops?: ShardOps }) {
    this.#router = options.router;
    this.#maps = options.maps;
    this.#coordinator = options.coordinator;
    this.#caller = options.caller;
  }

  query(collection: string, query: Record<string, unknown>): Promise<unknown> {
    return this.#router.query(collection, query);
  }

  async get(collection: string, key: string, id?: string): Promise<unknown> {
    const def = this.#router.definition(collection);
    const found = await this.#router.collection(def).get(id === undefined ? key : { key, id });
    return found ?? null;
  }

  async map(): Promise<unknown> {
    const map = await this.#maps.refresh().catch(() => this.#maps.map);
    return { version: map.version, shards: Object.values(map.data.shards), placements: map.data.placements };
  }

  /** Asks every shard leader for its per-slot counters and returns the busiest slots. */
  async hotSlots(limit: number): Promise<{ mapVersion: number; slots: HotSlot[]; unreachable: string[] }> {
    const map = this.#maps.map;
    const nodes = [...new Set(Object.values(map.data.shards).flatMap((s) => s.replicas))];
    const unreachable: string[] = [];
    const slots: HotSlot[] = [];
    await Promise.all(
      nodes.map(async (node) => {
        try {
          const stats = (await this.#caller.call('$data', 1, 'shardStats', {}, { node, timeoutMs: 5_000 })) as Awaited<ReturnType<ShardOps['stats']>>;
          for (const shard of stats.shards) for (const s of shard.slots) slots.push({ ...s, shard: shard.shard, node });
        } catch {
          unreachable.push(node);
        }
      }),
    );
    slots.sort((a, b) => b.reads + b.writes - (a.reads + a.writes) || a.slot - b.slot);
    return { mapVersion: map.version, slots: slots.slice(0, limit), unreachable };
  }

  async rebalanceStatus(): Promise<unknown> {
    return rebalanceStatus(this.#coordinator);
  }
}

/** Leader, moves in flight and progress, straight from the coordinator (also used by the CLI). */
export async function rebalanceStatus(coordinator: Coordinator): Promise<{ leader: unknown; progress: unknown; moves: unknown[] }> {
  const [leader, progress, moves] = await Promise.all([coordinator.get(REBALANCER_KEY), coordinator.get(REBALANCE_PROGRESS_KEY), coordinator.list(MOVES_PREFIX)]);
  return { leader: leader?.value ?? null, progress: progress?.value ?? null, moves: moves.entries.map((e) => e.value) };
}
