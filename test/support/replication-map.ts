/**
 * The shard map as `$data.map` shows it (each shard's replica set, leader and in-sync
 * followers) and the checks fault tests make on it: what keeps a shard from being fully
 * replicated, whether every slot is owned, and whether the rebalancer is done.
 */
import type { Coordinator } from '../../src/control/index.ts';
import type { RoutingCaller } from '../../src/runtime/index.ts';
import { MOVES_PREFIX, REBALANCE_PROGRESS_KEY, SLOT_COUNT, ShardMapCache, type RebalanceProgress, type ShardReplication, type SlotRange } from '../../src/data/index.ts';

export interface ReplicationMap {
  version: number;
  shards: ShardReplication[];
  placements: Record<string, SlotRange[]>;
  unreachable: string[];
}

export async function replicationMap(caller: RoutingCaller): Promise<ReplicationMap> {
  return (await caller.call('$data', 1, 'map', {}, { timeoutMs: 5_000 })) as ReplicationMap;
}

export interface ReplicationWanted {
  /** Replicas every shard must have, every one of them in sync. */
  replicas: number;
  /** Nodes no shard may list, as a replica in the map or as a member of its group. */
  gone?: readonly string[];
}

/**
 * What keeps each shard from being fully replicated: too few or too many replicas in the map, a
 * gone node in its set, no leader, a replica not in sync, or a group member the map no longer
 * lists (a dropped voter not yet removed). Empty when every shard is as wanted.
 */
export function replicationProblems(map: ReplicationMap, wanted: ReplicationWanted): string[] {
  const gone = new Set(wanted.gone ?? []);
  const problems: string[] = [];
  for (const shard of map.shards) {
    const at = `shard ${shard.id} [${shard.replicas.join(',')}]`;
    if (shard.replicas.length !== wanted.replicas) problems.push(`${at}: ${shard.replicas.length} replicas, not ${wanted.replicas}`);
    const listed = [...shard.replicas, ...shard.followers.map((f) => f.node), ...(shard.leader ? [shard.leader] : [])].filter((n) => gone.has(n));
    if (listed.length > 0) problems.push(`${at}: lists ${[...new Set(listed)].join(',')}, which is gone`);
    if (shard.leader === null) problems.push(`${at}: no leader`);
    if (shard.underReplicated) problems.push(`${at}: under-replicated (in sync: ${shard.inSync.join(',')})`);
    const extra = shard.followers.filter((f) => !shard.replicas.includes(f.node)).map((f) => f.node);
    if (extra.length > 0) problems.push(`${at}: group still has ${extra.join(',')}`);
  }
  return problems;
}

/** Resolves when every shard is as wanted; throws the problems otherwise (for `eventually`, which quotes the last). */
export async function expectFullyReplicated(caller: RoutingCaller, wanted: ReplicationWanted): Promise<ReplicationMap> {
  const map = await replicationMap(caller);
  const problems = replicationProblems(map, wanted);
  if (map.shards.length === 0) problems.push('no shards');
  if (problems.length > 0) throw new Error(problems.join('; '));
  return map;
}

/** Slots of each placement that no shard of the map owns (an owner missing from the map counts as none). */
export function unownedSlots(map: ReplicationMap): Record<string, number> {
  const shards = new Set(map.shards.map((s) => s.id));
  const unowned: Record<string, number> = {};
  for (const [placement, ranges] of Object.entries(map.placements)) {
    let owned = 0;
    for (const [first, last, shard] of ranges) if (shards.has(shard)) owned += last - first + 1;
    if (owned !== SLOT_COUNT) unowned[placement] = SLOT_COUNT - owned;
  }
  return unowned;
}

/**
 * Resolves when the rebalancer is done: no move in flight, its progress idle, and each
 * placement's slots spread evenly (within one) over `shards` shards; throws what is not yet so.
 */
export async function expectBalanced(coordinator: Coordinator, shards: number): Promise<void> {
  // refresh() alone reads the map once and starts no watch: nothing to close.
  const [moves, progress, map] = await Promise.all([coordinator.list(MOVES_PREFIX), coordinator.get(REBALANCE_PROGRESS_KEY), new ShardMapCache(coordinator).refresh()]);
  const problems: string[] = [];
  if (moves.entries.length > 0) problems.push(`${moves.entries.length} move(s) in flight`);
  const state = (progress?.value as RebalanceProgress | undefined)?.state;
  if (state !== 'idle') problems.push(`rebalancer ${state ?? 'unknown'}`);
  for (const placement of map.placements()) {
    const counts = map.shardsOf(placement).map((h) => h.slots.length);
    if (counts.length !== shards || Math.max(...counts) - Math.min(...counts) > 1) problems.push(`placement ${placement}: slots per shard ${counts.join(',')}`);
  }
  if (map.placements().length === 0) problems.push('no map yet');
  if (problems.length > 0) throw new Error(problems.join('; '));
}
