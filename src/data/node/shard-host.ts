import { setTimeout as sleep } from 'node:timers/promises';
import { ShoalError, silentLogger, type Logger } from '../../core/index.ts';
import type { ShardMapCache } from '../map/map-cache.ts';
import { redirectError, fencedError } from '../map/redirect.ts';
import { placementOf, type ShardMap } from '../map/shard-map.ts';
import { SLOT_COUNT, type CollectionSpec, type ShardEngine, type ShardWrite } from '../types.ts';
import type { ShardEngineFactory } from './engines.ts';
import type { FenceTable } from './fence-table.ts';
import { WriteBatcher } from './write-batcher.ts';

/** How long a write waits for a fenced slot to finish switching before answering UNAVAILABLE. */
const FENCE_WAIT_MS = 2_000;

export interface Owned {
  engine: ShardEngine;
  shard: number;
  spec: CollectionSpec;
}

/**
 * The shards this node leads: opens their engines on first use and decides, against the
 * newest map it knows, whether an operation on a slot belongs here. Every check reads the
 * map at most once and touches the engine synchronously after it, so no await ever sits
 * between "this slot is mine and not fenced" and a read. A write waits for its shard's group
 * commit, so the check is repeated synchronously just before the batch is written.
 */
export class ShardHost {
  readonly nodeId: string;
  private readonly engines = new Map<number, ShardEngine>();
  private readonly batchers = new Map<ShardEngine, WriteBatcher>();
  private readonly specs: Map<string, CollectionSpec>;
  private readonly openEngine: ShardEngineFactory;
  private readonly maps: ShardMapCache;
  private readonly fences: FenceTable;
  private readonly logger: Logger;
  private readonly ready: Promise<void>;

  constructor(options: { nodeId: string; specs: CollectionSpec[]; openEngine: ShardEngineFactory; maps: ShardMapCache; fences: FenceTable; ready: Promise<void>; logger?: Logger }) {
    this.nodeId = options.nodeId;
    this.specs = new Map(options.specs.map((s) => [s.name, s]));
    this.openEngine = options.openEngine;
    this.maps = options.maps;
    this.fences = options.fences;
    this.logger = options.logger ?? silentLogger;
    this.ready = options.ready;
  }

  get mapVersion(): number {
    return this.maps.version;
  }

  spec(collection: string): CollectionSpec {
    const spec = this.specs.get(collection);
    if (!spec) throw new ShoalError('NOT_FOUND', `unknown collection "${collection}"`, { collections: [...this.specs.keys()] });
    return spec;
  }

  collections(): CollectionSpec[] {
    return [...this.specs.values()];
  }

  /** The map to judge a caller by: refreshed first when the caller has seen a newer one. */
  async mapFor(callerVersion: number): Promise<ShardMap> {
    await this.ready;
    return callerVersion > this.maps.version ? this.maps.atLeast(callerVersion) : this.maps.map;
  }

  /** The engine of a shard this node leads in the map; a redirect otherwise. */
  engineOf(map: ShardMap, shardId: number): ShardEngine {
    const record = map.shard(shardId);
    if (!record || record.replicas[0] !== this.nodeId) throw redirectError(`shard ${shardId}`, map.version);
    let engine = this.engines.get(shardId);
    if (!engine) {
      engine = this.openEngine(shardId);
      for (const spec of this.specs.values()) if (placementOf(spec.group) === record.placement) engine.ensureCollection(spec);
      this.engines.set(shardId, engine);
      this.logger.info({ shard: shardId, placement: record.placement }, 'shard opened');
    }
    return engine;
  }

  /** For reads: the slot's shard is led here. */
  async forRead(collection: string, slot: number, callerVersion: number): Promise<Owned> {
    const spec = this.spec(collection);
    checkSlot(slot);
    const map = await this.mapFor(callerVersion);
    const shard = map.shardOf(placementOf(spec.group), slot);
    if (shard === undefined) throw redirectError(`slot ${slot}`, map.version);
    return { engine: this.engineOf(map, shard), shard, spec };
  }

  /**
   * For writes: also not fenced. A fenced slot is waited on briefly, since the switch usually
   * ends within a few milliseconds and then the slot either is still here or redirects.
   */
  async forWrite(collection: string, slot: number, callerVersion: number): Promise<Owned> {
    const until = Date.now() + FENCE_WAIT_MS;
    for (;;) {
      const owned = await this.forRead(collection, slot, callerVersion);
      if (!this.fences.isFenced(owned.shard, slot)) return owned;
      if (Date.now() > until) throw fencedError(slot);
      await sleep(10);
      // The switch may have produced a newer map than the caller's; judge by it next round.
      callerVersion = Math.max(callerVersion, this.maps.version);
    }
  }

  /**
   * Applies a write checked by forWrite in the shard's next group commit. `again` repeats the
   * whole operation, checks included; it runs instead when the slot stopped being writable here
   * while the write was queued.
   */
  write<T>(owned: Owned, slot: number, write: ShardWrite, again: () => Promise<T>): Promise<T> {
    let batcher = this.batchers.get(owned.engine);
    if (!batcher) this.batchers.set(owned.engine, (batcher = new WriteBatcher(owned.engine)));
    return batcher.submit(write, () => this.writableHere(owned, slot), again);
  }

  /** forWrite's verdict again, synchronously, against the map and fences as they are now. */
  private writableHere(owned: Owned, slot: number): boolean {
    const map = this.maps.map;
    const shard = map.shardOf(placementOf(owned.spec.group), slot);
    if (shard !== owned.shard || map.shard(shard)?.replicas[0] !== this.nodeId) return false;
    return this.engines.get(shard) === owned.engine && !this.fences.isFenced(shard, slot);
  }

  /** For move operations, which name their shard explicitly. */
  async shardEngine(shardId: number, callerVersion: number): Promise<{ engine: ShardEngine; map: ShardMap }> {
    const map = await this.mapFor(callerVersion);
    return { engine: this.engineOf(map, shardId), map };
  }

  /** Open engines, for stats. */
  openShards(): Array<{ shard: number; engine: ShardEngine }> {
    return [...this.engines].map(([shard, engine]) => ({ shard, engine }));
  }

  close(): void {
    // Writes already queued were accepted: commit them before the engines go.
    for (const batcher of this.batchers.values()) batcher.flush();
    this.batchers.clear();
    for (const [shard, engine] of this.engines) {
      try {
        engine.close();
      } catch (err) {
        this.logger.warn({ shard, err: String(err) }, 'closing shard failed');
      }
    }
    this.engines.clear();
  }
}

export function checkSlot(slot: number): void {
  if (!Number.isInteger(slot) || slot < 0 || slot >= SLOT_COUNT) throw new ShoalError('BAD_REQUEST', `slot must be an integer from 0 to ${SLOT_COUNT - 1}, got ${slot}`);
}
