import { ShoalError } from '../../core/index.ts';
import type { FenceTable } from './fence-table.ts';
import { redirectError } from '../map/redirect.ts';
import type { ChangeRecord, ExportedDocument, JsonDocument, Query, ShardCommand, ShardQueryResult, ShardWrite, StoredDocument, WriteOptions } from '../types.ts';
import type { Consistency, Owned, ShardHost } from './shard-host.ts';
import type { ReplicaGroup } from '../replica/replica-group.ts';
import type { ShardMapCache } from '../map/map-cache.ts';
import type { ShardMap } from '../map/shard-map.ts';

interface RefParams {
  collection: string;
  slot: number;
  mapVersion: number;
  key: string;
  id: string;
}

/** Reads name the consistency they need; absent, the leader's linearizable view. */
interface ReadParams {
  consistency?: Consistency;
}

/**
 * What each `$data` per-shard and move action does on this node. Ownership and fences are
 * checked by ShardHost; this file turns requests into engine calls and keeps writes whole:
 * what can be checked without the stored document is checked before the engine sees it, and
 * the engine checks the rest (an update's merged size) inside the write's own transaction.
 * A read is judged again when the engine answers: the slot may have moved away (and been
 * dropped here) while the engine worked, and only a redirect is then a true answer.
 */
export class ShardOps {
  readonly #host: ShardHost;
  readonly #fences: FenceTable;
  readonly #maps: ShardMapCache;

  constructor(host: ShardHost, fences: FenceTable, maps: ShardMapCache) {
    this.#host = host;
    this.#fences = fences;
    this.#maps = maps;
  }

  async get(p: RefParams & ReadParams): Promise<StoredDocument | null> {
    const owned = await this.#host.forRead(p.collection, p.slot, p.mapVersion, p.consistency);
    const found = await owned.engine.get(p.collection, { key: p.key, id: p.id });
    this.#stillLed(owned, [p.slot], p.consistency);
    return found ?? null;
  }

  async getMany(p: { collection: string; mapVersion: number; refs: Array<{ key: string; id: string; slot: number }> } & ReadParams): Promise<Array<StoredDocument | null>> {
    if (p.refs.length === 0) return [];
    // Every ref must be owned here; all are checked before any is read so the answer is one map's view.
    const owned = await Promise.all(p.refs.map((r) => this.#host.forRead(p.collection, r.slot, p.mapVersion, p.consistency)));
    const engine = owned[0].engine;
    if (owned.some((o) => o.engine !== engine)) throw redirectError('a getMany spanning shards', this.#host.mapVersion);
    const found = await engine.getMany(p.collection, p.refs.map((r) => ({ key: r.key, id: r.id })));
    this.#stillLed(owned[0], p.refs.map((r) => r.slot), p.consistency);
    return found.map((d) => d ?? null);
  }

  async put(p: RefParams & { doc: JsonDocument; expectVersion?: number }): Promise<StoredDocument> {
    const owned = await this.#host.forWrite(p.collection, p.slot, p.mapVersion);
    checkSize(p.doc, owned.spec.maxDocumentBytes);
    const write: ShardWrite = { op: 'put', collection: p.collection, ref: { key: p.key, id: p.id }, slot: p.slot, doc: p.doc, options: versionOf(p) };
    return this.#host.write(owned, p.slot, write, () => this.put(p));
  }

  async update(p: RefParams & { changes: JsonDocument; expectVersion?: number }): Promise<StoredDocument> {
    const owned = await this.#host.forWrite(p.collection, p.slot, p.mapVersion);
    // The merged document's size is the engine's to check: reading it here would put an await
    // between the checks and the submit, letting later writes of the same turn overtake this one.
    checkSize(p.changes, owned.spec.maxDocumentBytes);
    const write: ShardWrite = { op: 'update', collection: p.collection, ref: { key: p.key, id: p.id }, changes: p.changes, options: versionOf(p) };
    return this.#host.write(owned, p.slot, write, () => this.update(p));
  }

  async delete(p: RefParams & { expectVersion?: number }): Promise<{ deleted: boolean }> {
    const owned = await this.#host.forWrite(p.collection, p.slot, p.mapVersion);
    const write: ShardWrite = { op: 'delete', collection: p.collection, ref: { key: p.key, id: p.id }, options: versionOf(p) };
    return { deleted: await this.#host.write(owned, p.slot, write, async () => (await this.delete(p)).deleted) };
  }

  async increment(p: RefParams & { deltas: Record<string, number> }): Promise<StoredDocument> {
    const owned = await this.#host.forWrite(p.collection, p.slot, p.mapVersion);
    for (const [field, delta] of Object.entries(p.deltas)) {
      if (!Number.isFinite(delta)) throw new ShoalError('VALIDATION', `increment of "${field}" must be a finite number`);
    }
    const write: ShardWrite = { op: 'increment', collection: p.collection, ref: { key: p.key, id: p.id }, slot: p.slot, deltas: p.deltas };
    return this.#host.write(owned, p.slot, write, () => this.increment(p));
  }

  async scan(p: { collection: string; slot: number; mapVersion: number; key: string; idPrefix?: string; index?: string; limit?: number; after?: string } & ReadParams): Promise<StoredDocument[]> {
    const owned = await this.#host.forRead(p.collection, p.slot, p.mapVersion, p.consistency);
    const options: { idPrefix?: string; index?: string; limit?: number; after?: string } = {};
    if (p.idPrefix !== undefined) options.idPrefix = p.idPrefix;
    if (p.index !== undefined) options.index = p.index;
    if (p.limit !== undefined) options.limit = p.limit;
    if (p.after !== undefined) options.after = p.after;
    const found = await owned.engine.scan(p.collection, p.key, options);
    this.#stillLed(owned, [p.slot], p.consistency);
    return found;
  }

  /** Runs the shard's part of a query over exactly the slots the caller believes this shard owns. */
  async query(p: { collection: string; shard: number; mapVersion: number; slots: Array<[number, number]>; query: Record<string, unknown> }): Promise<ShardQueryResult> {
    const spec = this.#host.spec(p.collection);
    const { engine, map, group } = await this.#host.shardEngine(p.shard, p.mapVersion);
    await group.readBarrier();
    const slots: number[] = [];
    for (const [first, last] of p.slots) {
      for (let slot = first; slot <= last; slot++) {
        if (map.shardOf(map.shard(p.shard)!.placement, slot) !== p.shard) throw redirectError(`slot ${slot}`, map.version);
        slots.push(slot);
      }
    }
    const result = await engine.query(p.collection, p.query as Query, slots);
    this.#stillLed({ engine, group, shard: p.shard, spec }, slots);
    return result;
  }

  async stats(): Promise<{ nodeId: string; mapVersion: number; shards: Array<{ shard: number; documents: number; slots: Array<{ slot: number; documents: number; reads: number; writes: number }> }> }> {
    const mapVersion = this.#host.mapVersion;
    const shards = await Promise.all(
      this.#host.openShards().filter(({ group }) => group.isLeader).map(async ({ shard, engine }) => {
        const [sizes, counted] = await Promise.all([engine.slotSizes(), engine.slotCounters()]);
        const counters = new Map(counted.map((c) => [c.slot, c]));
        const slots = new Set([...sizes.keys(), ...counters.keys()]);
        return {
          shard,
          documents: [...sizes.values()].reduce((a, b) => a + b, 0),
          slots: [...slots].map((slot) => ({ slot, documents: sizes.get(slot) ?? 0, reads: counters.get(slot)?.reads ?? 0, writes: counters.get(slot)?.writes ?? 0 })),
        };
      }),
    );
    return { nodeId: this.#host.nodeId, mapVersion, shards };
  }

  async moveBegin(p: { shard: number; mapVersion: number }): Promise<{ lastSeq: number }> {
    const { engine } = await this.#host.shardEngine(p.shard, p.mapVersion);
    return { lastSeq: await engine.lastSeq() };
  }

  async moveExport(p: { shard: number; mapVersion: number; slot: number; afterRowId?: number; limit: number }) {
    const { engine } = await this.#host.shardEngine(p.shard, p.mapVersion);
    return await engine.exportSlot(p.slot, p.afterRowId === undefined ? { limit: p.limit } : { afterRowId: p.afterRowId, limit: p.limit });
  }

  /** Destination side: refuses slots the shard already owns, whose live documents a copy must never overwrite. */
  async moveImport(p: { shard: number; mapVersion: number; slot: number; documents: ExportedDocument[] }): Promise<{ imported: number }> {
    const { map, group } = await this.#host.shardEngine(p.shard, p.mapVersion);
    this.#notOwned(map, p.shard, p.slot, p.slot);
    return { imported: await replicate(group, { kind: 'import', slot: p.slot, documents: p.documents }) };
  }

  async moveChanges(p: { shard: number; mapVersion: number; since: number; first: number; last: number; limit: number }): Promise<{ changes: ChangeRecord[]; lastSeq: number }> {
    const { engine } = await this.#host.shardEngine(p.shard, p.mapVersion);
    const slots: number[] = [];
    for (let slot = p.first; slot <= p.last; slot++) slots.push(slot);
    // The end first: it may then trail the changes read, never run ahead of one not read.
    const lastSeq = await engine.lastSeq();
    return { changes: await engine.changesSince(p.since, slots, p.limit), lastSeq };
  }

  async moveApply(p: { shard: number; mapVersion: number; first: number; last: number; changes: ChangeRecord[] }): Promise<{ applied: number }> {
    const { map, group } = await this.#host.shardEngine(p.shard, p.mapVersion);
    this.#notOwned(map, p.shard, p.first, p.last);
    for (const c of p.changes) if (c.slot < p.first || c.slot > p.last) throw new ShoalError('BAD_REQUEST', `change for slot ${c.slot} outside the move's slots`);
    return { applied: await replicate(group, { kind: 'changes', changes: p.changes }) };
  }

  async fence(p: { shard: number; mapVersion: number; move: string; first: number; last: number }): Promise<{ fenced: true }> {
    await this.#host.shardEngine(p.shard, p.mapVersion);
    this.#fences.fence(p.move, p.shard, p.first, p.last);
    // The final catch-up follows this answer: writes let through before the fence must be in the log by then.
    await this.#host.writesCommitted(p.shard);
    return { fenced: true };
  }

  /** Lifts a fence only once this node has the map that moved the slots, so it redirects instead of accepting writes meant for the new owner. */
  async unfence(p: { mapVersion: number; move: string }): Promise<{ unfenced: true; mapVersion: number }> {
    const map = await this.#maps.atLeast(p.mapVersion);
    if (map.version < p.mapVersion) throw new ShoalError('UNAVAILABLE', `map version ${p.mapVersion} not readable yet`, { sent: false });
    this.#fences.unfence(p.move);
    return { unfenced: true, mapVersion: map.version };
  }

  /** Removes slots the shard does not own (a partial copy, or what is left after a move). */
  async dropSlots(p: { shard: number; mapVersion: number; first: number; last: number }): Promise<{ dropped: number }> {
    const { map, group } = await this.#host.shardEngine(p.shard, p.mapVersion);
    this.#notOwned(map, p.shard, p.first, p.last);
    return { dropped: await replicate(group, { kind: 'drop', first: p.first, last: p.last }) };
  }

  /** A redirect when the slots read stopped being led here while the engine answered. */
  #stillLed(owned: Owned, slots: Iterable<number>, consistency?: Consistency): void {
    if (!this.#host.stillLeads(owned, slots, consistency)) throw redirectError(`shard ${owned.shard}`, this.#host.mapVersion);
  }

  #notOwned(map: ShardMap, shard: number, first: number, last: number): void {
    const placement = map.shard(shard)?.placement;
    if (placement === undefined) throw redirectError(`shard ${shard}`, map.version);
    for (let slot = first; slot <= last; slot++) {
      if (map.shardOf(placement, slot) === shard) {
        throw new ShoalError('CONFLICT', `shard ${shard} owns slot ${slot} at map version ${map.version}; refusing to overwrite or drop it`, { owned: true, slot, mapVersion: map.version });
      }
    }
  }
}

/** Proposes a move command to the shard's log; answers how many documents it touched on every replica. */
async function replicate(group: ReplicaGroup, command: ShardCommand): Promise<number> {
  const result = await group.propose(command);
  if (result.kind === 'refused') throw result.error;
  return result.kind === 'count' ? result.count : 0;
}

function versionOf(p: { expectVersion?: number }): WriteOptions {
  return p.expectVersion === undefined ? {} : { expectVersion: p.expectVersion };
}

function checkSize(doc: JsonDocument, maxBytes: number): void {
  const bytes = Buffer.byteLength(JSON.stringify(doc));
  if (bytes > maxBytes) throw new ShoalError('PAYLOAD_TOO_LARGE', `document is ${bytes} bytes; the collection accepts at most ${maxBytes}`, { bytes, maxBytes });
}
