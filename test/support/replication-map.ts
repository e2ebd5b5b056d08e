/**
 * The shard map as `$data.map` shows it (each shard's replica set, leader and in-sync
 * followers) and the checks fault tests make on it: what keeps a shard from being fully
 * replicated, and whether every slot is owned.
 */
import type { RoutingCaller } from '../../src/runtime/index.ts';
import { SLOT_COUNT, type ShardReplication, type SlotRange } from '../../src/data/index.ts';

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
