/**
 * What the rebalancer wants the map to look like, as pure functions of the map and the data
 * nodes: structural changes applied in one map write (new shards, replica sets filled up to the
 * replication factor and rid of nodes gone for good, unassigned slots given out), then slot
 * moves that even out the slot counts.
 */
import { DEFAULT_PLACEMENT, encodeRanges, type ShardMap, type ShardMapData, type ShardRecord } from '../map/shard-map.ts';
import { SLOT_COUNT } from '../types.ts';

export interface DataNodeInfo {
  id: string;
  groups: string[];
  draining: boolean;
  /** Failure domain: replicas of a shard go to distinct zones while there are enough of them. */
  zone?: string;
  /** Known but not registered right now (down for less than the replica timeout): keeps its place, gets nothing new. */
  missing?: boolean;
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
  /** Slots whose every replica is gone for good: their documents are lost. */
  lost: Array<{ shard: number; node: string; placement: string; slots: number }>;
  /** Replica-set changes made, for the log. */
  replaced: Array<{ shard: number; removed: string[]; added: string[] }>;
}

/**
 * @param nodes     data nodes registered now, plus those missing for less than the replica timeout (`missing: true`)
 * @param dead      node ids gone longer than the replica timeout: dropped from every replica set
 * @param replicas  the replication factor asked for (capped by the nodes that can hold a placement)
 */
export function reshape(map: ShardMap, nodes: readonly DataNodeInfo[], dead: ReadonlySet<string>, replicas = 1): Reshape {
  const data: ShardMapData = structuredClone(map.data);
  let changed = false;
  const known = new Map(nodes.map((n) => [n.id, n]));
  const tables = new Map<string, Int32Array>();
  for (const placement of map.placements()) tables.set(placement, map.table(placement));
  const lost: Reshape['lost'] = [];
  const replaced: Reshape['replaced'] = [];
  const slotsOf = (shard: ShardRecord) => {
    const table = tables.get(shard.placement);
    let owned = 0;
    if (table) for (let slot = 0; slot < SLOT_COUNT; slot++) if (table[slot] === shard.id) owned++;
    return owned;
  };
  const takers = (placement: string) => nodes.filter((n) => !n.missing && !n.draining && placementsOf(n).includes(placement));

  // Every registered node that may take work homes a shard (is its preferred leader) in each of its placements.
  for (const node of nodes) {
    if (node.draining || node.missing) continue;
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
    const before = [...shard.replicas];
    const owned = slotsOf(shard);
    // A node gone for good leaves every set; an empty shard whose home node is gone or leaving goes with it.
    let members = shard.replicas.filter((id) => !dead.has(id) && known.has(id));
    const home = known.get(before[0]);
    if (owned === 0 && (!home || home.draining)) members = [];
    if (members.length === 0) {
      if (owned > 0) lost.push({ shard: shard.id, node: shard.replicas.join(','), placement: shard.placement, slots: owned });
      const table = tables.get(shard.placement);
      if (table) for (let slot = 0; slot < SLOT_COUNT; slot++) if (table[slot] === shard.id) table[slot] = -1;
      delete data.shards[String(shard.id)];
      changed = true;
      continue;
    }
    const candidates = takers(shard.placement);
    const factor = Math.min(replicas, Math.max(1, candidates.length));
    // Leaving nodes are replaced while a node can take their place; they stay until then. A
    // leaving node's own shard is the exception: it stays its leader while its slots move to
    // other shards, then goes with it, so the shard count follows the node count.
    const leavingHome = owned > 0 && home?.draining === true && members[0] === before[0] ? before[0] : undefined;
    const staying = () => members.filter((id) => !known.get(id)!.draining || id === leavingHome);
    while (staying().length < factor) {
      const pick = pickReplica(candidates, members, known, data);
      if (!pick) break;
      members.push(pick);
    }
    for (const id of [...members]) {
      if (id !== leavingHome && known.get(id)!.draining && staying().length >= factor && members.length > 1) members = members.filter((m) => m !== id);
    }
    while (members.length > Math.max(factor, staying().length) && members.length > 1) {
      // More replicas than asked for (the factor was lowered): drop the last non-preferred one.
      members.pop();
    }
    if (members.join(',') !== before.join(',')) {
      shard.replicas = members;
      replaced.push({ shard: shard.id, removed: before.filter((id) => !members.includes(id)), added: members.filter((id) => !before.includes(id)) });
      changed = true;
    }
  }

  for (const [placement, table] of tables) {
    if (!table.includes(-1)) continue;
    const eligible = eligibleShards(data, placement, known);
    const fallback = eligible.length > 0 ? eligible : Object.values(data.shards).filter((s) => s.placement === placement).map((s) => s.id);
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
  return { data, changed, lost, replaced };
}

/** The node to add to a replica set: a zone the set does not use yet if any, then the node holding fewest replicas. */
function pickReplica(candidates: readonly DataNodeInfo[], members: readonly string[], known: ReadonlyMap<string, DataNodeInfo>, data: ShardMapData): string | undefined {
  const zones = new Set(members.map((id) => known.get(id)?.zone).filter((z) => z !== undefined));
  const held = new Map<string, number>();
  for (const shard of Object.values(data.shards)) for (const id of shard.replicas) held.set(id, (held.get(id) ?? 0) + 1);
  const free = candidates.filter((n) => !members.includes(n.id));
  free.sort((a, b) => {
    const newZone = Number(b.zone === undefined || !zones.has(b.zone)) - Number(a.zone === undefined || !zones.has(a.zone));
    return newZone || (held.get(a.id) ?? 0) - (held.get(b.id) ?? 0) || a.id.localeCompare(b.id);
  });
  return free[0]?.id;
}

/**
 * Shards of the placement whose preferred leader is known and not draining: a node down for a
 * moment keeps its share of slots, so a restart moves nothing.
 */
function eligibleShards(data: ShardMapData, placement: string, known: ReadonlyMap<string, DataNodeInfo>): number[] {
  return Object.values(data.shards)
    .filter((s) => s.placement === placement && known.has(s.replicas[0]) && !known.get(s.replicas[0])!.draining)
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
