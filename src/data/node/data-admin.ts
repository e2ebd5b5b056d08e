import type { Coordinator } from '../../control/index.ts';
import { REBALANCE_PROGRESS_KEY, REBALANCER_KEY, MOVES_PREFIX } from '../map/keys.ts';
import type { ShardMapCache } from '../map/map-cache.ts';
import type { DataCaller, DataRouter } from '../router/data-router.ts';
import type { ShardOps } from './shard-ops.ts';
import type { ShardRecord } from '../map/shard-map.ts';
import type { ReplicaReport } from './replica-ops.ts';
import { CAUGHT_UP_ENTRIES } from '../replica/reconcile.ts';

/** One shard's replication, as `$data.map` and `shoal status` show it. */
export interface ShardReplication {
  id: number;
  placement: string;
  slots: number;
  /** The replica set the map asks for, preferred leader first. */
  replicas: string[];
  leader: string | null;
  term: number;
  followers: Array<{ node: string; voter: boolean; lagEntries: number | null; lagMs: number | null; inSync: boolean }>;
  /** Leader and followers caught up and heard from within an election timeout. */
  inSync: string[];
  underReplicated: boolean;
}

/** Combines what each replica reports into one view of the shard; the leader with the highest term speaks for it. */
export function shardReplication(record: ShardRecord, slots: number, reports: readonly ReplicaReport[], electionMs: number): ShardReplication {
  const mine = reports.filter((r) => r.shard === record.id);
  const leader = mine.filter((r) => r.role === 'leader').sort((a, b) => b.term - a.term)[0];
  const members = new Set([...record.replicas, ...(leader ? [...leader.voters, ...leader.learners] : [])]);
  const followers = [...members]
    .filter((node) => node !== leader?.node)
    .map((node) => {
      const peer = leader?.peers.find((p) => p.id === node);
      const inSync = peer !== undefined && peer.voter && !peer.snapshotting && peer.lagEntries <= CAUGHT_UP_ENTRIES && peer.silentMs < electionMs;
      return { node, voter: peer?.voter ?? false, lagEntries: peer ? peer.lagEntries : null, lagMs: peer ? (peer.lagEntries === 0 ? 0 : peer.silentMs) : null, inSync };
    });
  const inSync = leader ? [leader.node, ...followers.filter((f) => f.inSync).map((f) => f.node)] : [];
  const underReplicated = !leader || record.replicas.some((node) => !inSync.includes(node));
  return { id: record.id, placement: record.placement, slots, replicas: record.replicas, leader: leader?.node ?? null, term: leader?.term ?? Math.max(0, ...mine.map((r) => r.term)), followers, inSync, underReplicated };
}

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

  readonly #electionMs: number;

  constructor(options: { router: DataRouter; maps: ShardMapCache; coordinator: Coordinator; caller: DataCaller; electionMs: number }) {
    this.#electionMs = options.electionMs;
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

  /** The map with each shard's replication as its replicas report it: leader, followers, lag, in-sync set. */
  async map(): Promise<{ version: number; shards: ShardReplication[]; placements: unknown; unreachable: string[] }> {
    const map = await this.#maps.refresh().catch(() => this.#maps.map);
    const nodes = [...new Set(Object.values(map.data.shards).flatMap((s) => s.replicas))];
    const unreachable: string[] = [];
    const reports: ReplicaReport[] = [];
    await Promise.all(
      nodes.map(async (node) => {
        try {
          const answer = (await this.#caller.call('$data', 1, 'replicaStatus', {}, { node, timeoutMs: 2_000 })) as { replicas: ReplicaReport[] };
          reports.push(...answer.replicas);
        } catch {
          unreachable.push(node);
        }
      }),
    );
    const shards = Object.values(map.data.shards).map((record) => shardReplication(record, map.slotsOfShard(record.id).length, reports, this.#electionMs));
    return { version: map.version, shards, placements: map.data.placements, unreachable: unreachable.sort() };
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
