/**
 * What the rebalancer wants the map to look like, as pure functions of the map and the live
 * data nodes: structural changes applied in one map write (new shards, shards of dead nodes
 * removed, unassigned slots given out), then slot moves that even out the slot counts.
 */
import { DEFAULT_PLACEMENT, encodeRanges, type ShardMap, type ShardMapData } from '../map/shard-map.ts';
import { SLOT_COUNT } from '../types.ts';

export interface DataNodeInfo {
  id: string;
  groups: string[];
  draining: boolean;
}

export interface PlannedMove {
  placement: string;
  first: number;
  last: number;
  fromShard: number;
  toShard: number;
}

function placementsOf(node: DataNodeInfo): string[] {
  return [DEFAULT_PLACEMENT, ...node.groups.filter((g) => g !== DEFAULT_PLACEMENT)];
}

export interface Reshape {
  data: ShardMapData;
  changed: boolean;
  /** Slots whose shard was removed with its node: their documents are gone (one replica). */
  lost: Array<{ shard: number; node: string; placement: string; slots: number }>;
}

/**
 * @param live   data nodes registered now
 * @param dead   node ids gone longer than the grace period (their data is lost)
 */
export function reshape(map: ShardMap, live: readonly DataNodeInfo[], dead: ReadonlySet<string>): Reshape {
  const data: ShardMapData = structuredClone(map.data);
  let changed = false;
  const liveById = new Map(live.map((n) => [n.id, n]));
  const tables = new Map<string, Int32Array>();
  for (const placement of map.placements()) tables.set(placement, map.table(placement));
  const lost: Reshape['lost'] = [];

  for (const node of live) {
    if (node.draining) continue;
    for (const placement of placementsOf(node)) {
      const has = Object.values(data.shards).some((s) => s.placement === placement && s.replicas[0] === node.id);
      if (has) continue;
      const id = data.nextShardId++;
      data.shards[String(id)] = { id, placement, replicas: [node.id] };
      if (!tables.has(placement)) tables.set(placement, new Int32Array(SLOT_COUNT).fill(-1));
      changed = true;
    }
  }

  for (const shard of Object.values(data.shards)) {
    const leader = shard.replicas[0];
    if (liveById.has(leader)) continue;
    const table = tables.get(shard.placement);
    let owned = 0;
    if (table) for (let slot = 0; slot < SLOT_COUNT; slot++) if (table[slot] === shard.id) owned++;
    // A shard without slots goes as soon as its node does; one with slots waits out the grace period.
    if (owned > 0 && !dead.has(leader)) continue;
    if (owned > 0) lost.push({ shard: shard.id, node: leader, placement: shard.placement, slots: owned });
    if (table) for (let slot = 0; slot < SLOT_COUNT; slot++) if (table[slot] === shard.id) table[slot] = -1;
    delete data.shards[String(shard.id)];
    changed = true;
  }

  for (const [placement, table] of tables) {
    if (!table.includes(-1)) continue;
    const eligible = eligibleShards(data, placement, liveById);
    const fallback = eligible.length > 0 ? eligible : Object.values(data.shards).filter((s) => s.placement === placement && liveById.has(s.replicas[0])).map((s) => s.id);
    if (fallback.length === 0) continue;
    const counts = new Map(fallback.map((id) => [id, 0]));
    for (const shard of table) if (counts.has(shard)) counts.set(shard, counts.get(shard)! + 1);
    const targets = targetCounts(fallback, counts);
    // Walking slots in order keeps each shard's new slots contiguous.
    let i = 0;
    for (let slot = 0; slot < SLOT_COUNT; slot++) {
      if (table[slot] !== -1) continue;
      while (i < fallback.length - 1 && counts.get(fallback[i])! >= targets.get(fallback[i])!) i++;
      table[slot] = fallback[i];
      counts.set(fallback[i], counts.get(fallback[i])! + 1);
    }
    changed = true;
  }

  data.placements = {};
  for (const [placement, table] of tables) data.placements[placement] = encodeRanges(table);
  return { data, changed, lost };
}

/** Shards of the placement whose leader is live and not draining. */
function eligibleShards(data: ShardMapData, placement: string, live: ReadonlyMap<string, DataNodeInfo>): number[] {
  return Object.values(data.shards)
    .filter((s) => s.placement === placement && live.has(s.replicas[0]) && !live.get(s.replicas[0])!.draining)
    .map((s) => s.id)
    .sort((a, b) => a - b);
}

/** Even shares; the extra slots of an uneven split go to the shards holding most, so fewer slots move. */
function targetCounts(shards: readonly number[], counts: ReadonlyMap<number, number>): Map<number, number> {
  const base = Math.floor(SLOT_COUNT / shards.length);
  let extra = SLOT_COUNT % shards.length;
  const byHolding = [...shards].sort((a, b) => (counts.get(b) ?? 0) - (counts.get(a) ?? 0) || a - b);
  const targets = new Map<number, number>();
  for (const shard of byHolding) targets.set(shard, base + (extra-- > 0 ? 1 : 0));
  return targets;
}

/** Moves that bring every placement to even slot counts over its eligible shards; draining shards empty first. */
export function planMoves(map: ShardMap, live: readonly DataNodeInfo[], rangeSize: number): PlannedMove[] {
  const liveById = new Map(live.map((n) => [n.id, n]));
  const moves: PlannedMove[] = [];
  for (const placement of map.placements()) {
    const eligible = eligibleShards(map.data, placement, liveById);
    if (eligible.length === 0) continue;
    const holdings = map.shardsOf(placement);
    const counts = new Map(holdings.map((h) => [h.shard, h.slots.length]));
    const targets = targetCounts(eligible, counts);
    const deficits = eligible.map((id) => ({ id, need: (targets.get(id) ?? 0) - (counts.get(id) ?? 0) })).filter((d) => d.need > 0);
    const sources = holdings
      .map((h) => ({ ...h, excess: h.slots.length - (targets.get(h.shard) ?? 0), draining: !targets.has(h.shard) }))
      .filter((s) => s.excess > 0)
      .sort((a, b) => Number(b.draining) - Number(a.draining) || b.excess - a.excess);
    for (const source of sources) {
      // Highest slots first: what stays behind remains one contiguous run.
      const slots = [...source.slots].sort((a, b) => b - a).slice(0, source.excess);
      let at = 0;
      for (const dest of deficits) {
        while (dest.need > 0 && at < slots.length) {
          const take = Math.min(dest.need, rangeSize, slots.length - at);
          // Split the taken slots into contiguous ranges (they are in descending order).
          let runEnd = at;
          while (runEnd + 1 < at + take && slots[runEnd + 1] === slots[runEnd] - 1) runEnd++;
          moves.push({ placement, first: slots[runEnd], last: slots[at], fromShard: source.shard, toShard: dest.id });
          const moved = runEnd - at + 1;
          dest.need -= moved;
          at += moved;
        }
      }
    }
  }
  return moves;
}
