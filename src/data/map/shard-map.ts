/**
 * The shard map: slots → shard per placement, shard → replica set (leader first). It is stored
 * in the coordinator as JSON with slots as ranges (a few dozen entries instead of 4096), and
 * decoded here into flat tables for O(1) lookups.
 *
 * Placements keep vertical partitioning simple: every collection without a group lives in the
 * default placement, every group has its own slot table, and a shard belongs to exactly one
 * placement, so moving a slot of one placement never touches another's documents.
 */
import { ShoalError } from '../../core/index.ts';
import { slotRanges } from '../slots.ts';
import { SLOT_COUNT } from '../types.ts';

/** Placement of collections that name no group. */
export const DEFAULT_PLACEMENT = '*';

export function placementOf(group: string | undefined): string {
  return group === undefined || group === '' ? DEFAULT_PLACEMENT : group;
}

export interface ShardRecord {
  id: number;
  placement: string;
  /**
   * Node ids of the replica set. The first is the shard's home: the node it was made for, and
   * its preferred leader unless `preferredLeader` names another.
   */
  replicas: string[];
  /** Set by `shoal data leader`: leadership is handed to this replica while it is one. */
  preferredLeader?: string;
}

/** The replica a shard's leadership should go to. */
export function preferredLeaderOf(record: ShardRecord): string | undefined {
  return record.preferredLeader !== undefined && record.replicas.includes(record.preferredLeader) ? record.preferredLeader : record.replicas[0];
}

/** Inclusive slot range owned by one shard. */
export type SlotRange = [first: number, last: number, shard: number];

/** The JSON stored at `data/map`; its version is the coordinator entry's version. */
export interface ShardMapData {
  shards: Record<string, ShardRecord>;
  placements: Record<string, SlotRange[]>;
  nextShardId: number;
  /** Fencing token of the rebalancer leader that wrote this map: an older leader must not overwrite it. */
  writerToken: number;
}

export class ShardMap {
  readonly version: number;
  readonly data: ShardMapData;
  private readonly tables = new Map<string, Int32Array>();

  constructor(data: ShardMapData, version: number) {
    this.data = data;
    this.version = version;
    for (const [placement, ranges] of Object.entries(data.placements)) {
      const table = new Int32Array(SLOT_COUNT).fill(-1);
      for (const [first, last, shard] of ranges) table.fill(shard, first, last + 1);
      this.tables.set(placement, table);
    }
  }

  static empty(): ShardMap {
    return new ShardMap({ shards: {}, placements: {}, nextShardId: 1, writerToken: 0 }, 0);
  }

  placements(): string[] {
    return [...this.tables.keys()];
  }

  hasPlacement(placement: string): boolean {
    return this.tables.has(placement);
  }

  /** Shard id owning the slot in the placement, or undefined if the placement has no shards yet. */
  shardOf(placement: string, slot: number): number | undefined {
    const shard = this.tables.get(placement)?.[slot];
    return shard === undefined || shard < 0 ? undefined : shard;
  }

  shard(id: number): ShardRecord | undefined {
    return this.data.shards[String(id)];
  }

  leaderOf(shardId: number): string | undefined {
    return this.shard(shardId)?.replicas[0];
  }

  /** Where a slot's documents live: the shard and its leader; UNAVAILABLE when the placement has no shard. */
  locate(placement: string, slot: number): { shard: number; node: string } {
    const shard = this.shardOf(placement, slot);
    const node = shard === undefined ? undefined : this.leaderOf(shard);
    if (shard === undefined || node === undefined) {
      throw new ShoalError('UNAVAILABLE', placement === DEFAULT_PLACEMENT ? 'the data store has no shards yet (no data node has joined)' : `no data node serves group "${placement}"`, {
        placement,
        mapVersion: this.version,
      });
    }
    return { shard, node };
  }

  /** Every shard of a placement with the slots it owns. */
  shardsOf(placement: string): Array<{ shard: number; node: string; slots: number[] }> {
    const table = this.tables.get(placement);
    if (!table) return [];
    const byShard = new Map<number, number[]>();
    for (let slot = 0; slot < SLOT_COUNT; slot++) {
      const shard = table[slot];
      if (shard < 0) continue;
      let slots = byShard.get(shard);
      if (!slots) byShard.set(shard, (slots = []));
      slots.push(slot);
    }
    return [...byShard].map(([shard, slots]) => ({ shard, node: this.leaderOf(shard) ?? '', slots }));
  }

  /** Slots of a placement owned by the shard. */
  slotsOfShard(shardId: number): number[] {
    const record = this.shard(shardId);
    const table = record && this.tables.get(record.placement);
    if (!table) return [];
    const slots: number[] = [];
    for (let slot = 0; slot < SLOT_COUNT; slot++) if (table[slot] === shardId) slots.push(slot);
    return slots;
  }

  /** Shards whose leader is the node. */
  shardsLedBy(nodeId: string): ShardRecord[] {
    return Object.values(this.data.shards).filter((s) => s.replicas[0] === nodeId);
  }

  /** The slot table of a placement, as a copy the rebalancer may change. */
  table(placement: string): Int32Array {
    return new Int32Array(this.tables.get(placement) ?? new Int32Array(SLOT_COUNT).fill(-1));
  }
}

/** Compacts a slot table into ranges; unassigned slots (-1) are left out. */
export function encodeRanges(table: Int32Array): SlotRange[] {
  const ranges: SlotRange[] = [];
  let start = 0;
  for (let slot = 1; slot <= table.length; slot++) {
    if (slot === table.length || table[slot] !== table[start]) {
      if (table[start] >= 0) ranges.push([start, slot - 1, table[start]]);
      start = slot;
    }
  }
  return ranges;
}

/** Slot lists travel as ranges: [first, last] pairs. */
export const compactSlots = slotRanges;

/** Reads a stored map value defensively: a malformed value is an empty map, never a crash. */
export function parseShardMap(value: unknown, version: number): ShardMap {
  const v = value as Partial<ShardMapData> | null;
  if (!v || typeof v !== 'object' || typeof v.shards !== 'object' || typeof v.placements !== 'object') return ShardMap.empty();
  return new ShardMap(
    { shards: v.shards ?? {}, placements: v.placements ?? {}, nextShardId: Number(v.nextShardId ?? 1), writerToken: Number(v.writerToken ?? 0) },
    version,
  );
}
