import { setTimeout as sleep } from 'node:timers/promises';
import { ShoalError, silentLogger, type Logger } from '../../core/index.ts';
import type { ShardMapCache } from '../map/map-cache.ts';
import { redirectError, fencedError } from '../map/redirect.ts';
import { placementOf, type ShardMap, type ShardRecord } from '../map/shard-map.ts';
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
 * newest map it knows, whether an operation on a slot belongs here. Every check reads the map
 * at most once and the engine call follows it with no await in between, so "this slot is mine
 * and not fenced" holds when the call is made. An engine may answer later (it may be across a
 * network), so a read is judged again when it answers (stillLeads: the slot may have moved and
 * been dropped meanwhile), and a write, which waits for its shard's group commit, is checked
 * again synchronously just before its batch is sent.
 */
export class ShardHost {
  readonly nodeId: string;
  readonly #engines = new Map<number, ShardEngine>();
  /** Engines being opened, so concurrent first uses share one. */
  readonly #opening = new Map<number, Promise<ShardEngine>>();
  readonly #batchers = new Map<ShardEngine, WriteBatcher>();
  readonly #specs: Map<string, CollectionSpec>;
  readonly #openEngine: ShardEngineFactory;
  readonly #maps: ShardMapCache;
  readonly #fences: FenceTable;
  readonly #logger: Logger;
  readonly #ready: Promise<void>;
  #closed = false;

  constructor(options: { nodeId: string; specs: CollectionSpec[]; openEngine: ShardEngineFactory; maps: ShardMapCache; fences: FenceTable; ready: Promise<void>; logger?: Logger }) {
    this.nodeId = options.nodeId;
    this.#specs = new Map(options.specs.map((s) => [s.name, s]));
    this.#openEngine = options.openEngine;
    this.#maps = options.maps;
    this.#fences = options.fences;
    this.#logger = options.logger ?? silentLogger;
    this.#ready = options.ready;
  }

  get mapVersion(): number {
    return this.#maps.version;
  }

  spec(collection: string): CollectionSpec {
    const spec = this.#specs.get(collection);
    if (!spec) throw new ShoalError('NOT_FOUND', `unknown collection "${collection}"`, { collections: [...this.#specs.keys()] });
    return spec;
  }

  collections(): CollectionSpec[] {
    return [...this.#specs.values()];
  }

  /** The map to judge a caller by: refreshed first when the caller has seen a newer one. */
  async mapFor(callerVersion: number): Promise<ShardMap> {
    await this.#ready;
    return callerVersion > this.#maps.version ? this.#maps.atLeast(callerVersion) : this.#maps.map;
  }

  /**
   * The open engine of a shard this node leads in the map (a redirect otherwise), or undefined
   * while it still has to be opened; synchronous, so no await separates it from the map read.
   */
  #engineOf(map: ShardMap, shardId: number): ShardEngine | undefined {
    const record = map.shard(shardId);
    if (!record || record.replicas[0] !== this.nodeId) throw redirectError(`shard ${shardId}`, map.version);
    return this.#engines.get(shardId);
  }

  /** Opens a shard's engine and its collections; the caller then checks ownership again, as the map may have moved on. */
  async #open(shardId: number, record: ShardRecord): Promise<void> {
    let opening = this.#opening.get(shardId);
    if (!opening) {
      opening = this.#openAndPrepare(shardId, record);
      this.#opening.set(shardId, opening);
      opening.then(
        () => this.#opening.delete(shardId),
        () => this.#opening.delete(shardId),
      );
    }
    await opening;
  }

  async #openAndPrepare(shardId: number, record: ShardRecord): Promise<ShardEngine> {
    if (this.#closed) throw new ShoalError('UNAVAILABLE', 'the data store is stopping', { sent: false });
    const engine = await this.#openEngine(shardId);
    try {
      for (const spec of this.#specs.values()) if (placementOf(spec.group) === record.placement) await engine.ensureCollection(spec);
      if (this.#closed) throw new ShoalError('UNAVAILABLE', 'the data store is stopping', { sent: false });
    } catch (err) {
      await engine.close().catch(() => undefined);
      throw err;
    }
    this.#engines.set(shardId, engine);
    this.#logger.info({ shard: shardId, placement: record.placement }, 'shard opened');
    return engine;
  }

  /** For reads: the slot's shard is led here. */
  async forRead(collection: string, slot: number, callerVersion: number): Promise<Owned> {
    const spec = this.spec(collection);
    checkSlot(slot);
    for (;;) {
      const map = await this.mapFor(callerVersion);
      const shard = map.shardOf(placementOf(spec.group), slot);
      if (shard === undefined) throw redirectError(`slot ${slot}`, map.version);
      const engine = this.#engineOf(map, shard);
      if (engine) return { engine, shard, spec };
      await this.#open(shard, map.shard(shard)!);
    }
  }

  /**
   * For writes: also not fenced. A fenced slot is waited on briefly, since the switch usually
   * ends within a few milliseconds and then the slot either is still here or redirects.
   */
  async forWrite(collection: string, slot: number, callerVersion: number): Promise<Owned> {
    const until = Date.now() + FENCE_WAIT_MS;
    for (;;) {
      const owned = await this.forRead(collection, slot, callerVersion);
      if (!this.#fences.isFenced(owned.shard, slot)) return owned;
      if (Date.now() > until) throw fencedError(slot);
      await sleep(10);
      // The switch may have produced a newer map than the caller's; judge by it next round.
      callerVersion = Math.max(callerVersion, this.#maps.version);
    }
  }

  /**
   * Applies a write checked by forWrite in the shard's next group commit. `again` repeats the
   * whole operation, checks included; it runs instead when the slot stopped being writable here
   * while the write was queued.
   */
  write<T>(owned: Owned, slot: number, write: ShardWrite, again: () => Promise<T>): Promise<T> {
    let batcher = this.#batchers.get(owned.engine);
    if (!batcher) this.#batchers.set(owned.engine, (batcher = new WriteBatcher(owned.engine)));
    return batcher.submit(write, () => this.#writableHere(owned, slot), again);
  }

  /** forRead's verdict again, synchronously, against the map as it is now: for judging a read once the engine answered. */
  stillLeads(owned: Owned, slots: Iterable<number>): boolean {
    const map = this.#maps.map;
    const record = map.shard(owned.shard);
    if (record?.replicas[0] !== this.nodeId || this.#engines.get(owned.shard) !== owned.engine) return false;
    for (const slot of slots) if (map.shardOf(record.placement, slot) !== owned.shard) return false;
    return true;
  }

  /** Resolves once writes to the shard already handed to its engine are committed (what a fence must wait for). */
  async writesCommitted(shardId: number): Promise<void> {
    const engine = this.#engines.get(shardId);
    const batcher = engine && this.#batchers.get(engine);
    await batcher?.committed();
  }

  /** forWrite's verdict again, synchronously, against the map and fences as they are now. */
  #writableHere(owned: Owned, slot: number): boolean {
    return this.stillLeads(owned, [slot]) && !this.#fences.isFenced(owned.shard, slot);
  }

  /** For move operations, which name their shard explicitly. */
  async shardEngine(shardId: number, callerVersion: number): Promise<{ engine: ShardEngine; map: ShardMap }> {
    for (;;) {
      const map = await this.mapFor(callerVersion);
      const engine = this.#engineOf(map, shardId);
      if (engine) return { engine, map };
      await this.#open(shardId, map.shard(shardId)!);
    }
  }

  /** Open engines, for stats. */
  openShards(): Array<{ shard: number; engine: ShardEngine }> {
    return [...this.#engines].map(([shard, engine]) => ({ shard, engine }));
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled(this.#opening.values());
    // Writes already queued were accepted: commit them before the engines go.
    await Promise.all([...this.#batchers.values()].map((batcher) => batcher.settle()));
    this.#batchers.clear();
    for (const [shard, engine] of this.#engines) {
      try {
        await engine.close();
      } catch (err) {
        this.#logger.warn({ shard, err: String(err) }, 'closing shard failed');
      }
    }
    this.#engines.clear();
  }
}

export function checkSlot(slot: number): void {
  if (!Number.isInteger(slot) || slot < 0 || slot >= SLOT_COUNT) throw new ShoalError('BAD_REQUEST', `slot must be an integer from 0 to ${SLOT_COUNT - 1}, got ${slot}`);
}
