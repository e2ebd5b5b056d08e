import { setTimeout as sleep } from 'node:timers/promises';
import { ShoalError, silentLogger, toShoalError, type Logger } from '../../core/index.ts';
import { collectionSpec } from '../collection.ts';
import type { ShardMapCache } from '../map/map-cache.ts';
import { notApplied, redirectOf } from '../map/redirect.ts';
import { compactSlots, placementOf, type ShardMap } from '../map/shard-map.ts';
import { mergeShardResults } from '../query/index.ts';
import { slotOf } from '../slots.ts';
import type { CollectionDefinition, CollectionSpec, JsonDocument, Query, ShardQueryResult, StoredDocument } from '../types.ts';
import { CallPipeline } from './call-pipeline.ts';
import { CollectionClient } from './collection-client.ts';
import { checkQuery } from '../query/index.ts';
import { pinnedKey } from './pinned-key.ts';
import { ShardLeaders } from './shard-leaders.ts';

/** A collection definition of any document type, for lists of them. */
// The `any` is the widest bound for a list: each definition keeps its own document type where it is used.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyCollectionDefinition = CollectionDefinition<any>;

/** What the router needs of a broker: calls to one named node. */
export interface DataCaller {
  call(service: string, version: number, action: string, params: unknown, options?: { node?: string; timeoutMs?: number }): Promise<unknown>;
}

export interface DataRouterOptions {
  caller: DataCaller;
  maps: ShardMapCache;
  collections?: readonly AnyCollectionDefinition[];
  logger?: Logger;
  /** Attempts per operation across redirects, fences, elections and nodes not yet routable (default 40: about 8 s, several elections' worth). */
  maxAttempts?: number;
  /** This process's node id, when it holds replicas itself (follower reads then stay local). */
  nodeId?: string;
}

/** Single-document actions that may share a shardBatch with others bound for the same node. */
const PIPELINED = new Set(['shardGet', 'shardPut', 'shardUpdate', 'shardDelete', 'shardIncrement']);

const BACKOFF_MIN_MS = 10;
const BACKOFF_MAX_MS = 250;

/** Actions that change documents: when their fate is unknown the caller is told so (`details.uncertain`). */
const WRITES = new Set(['shardPut', 'shardUpdate', 'shardDelete', 'shardIncrement']);

/** A failure after which the write may or may not have been applied. */
function uncertainWrite(err: unknown): ShoalError | undefined {
  const e = toShoalError(err);
  if ((e.code !== 'UNAVAILABLE' && e.code !== 'TIMEOUT') || notApplied(e)) return undefined;
  const details = (e.details ?? {}) as Record<string, unknown>;
  if (details.uncertain === true) return e;
  return new ShoalError(e.code, `${e.message} (the write may or may not have been applied)`, { ...details, uncertain: true });
}

/** Read consistency: the leader's linearizable view (default) or the nearest replica's, at most the staleness bound behind. */
export type ReadConsistency = 'leader' | 'follower';

/**
 * Sends document operations to the shard that holds them. The router trusts its cached map,
 * and the shard decides: a node that does not own the slot (in its newest map) answers with a
 * redirect, the router refreshes and sends again. Only outcomes that prove the operation did not
 * run (redirect, fence, not sent) are retried, so a write is never applied twice.
 */
export class DataRouter {
  private readonly caller: DataCaller;
  private readonly pipeline: CallPipeline;
  readonly maps: ShardMapCache;
  private readonly logger: Logger;
  private readonly maxAttempts: number;
  private readonly leaders = new ShardLeaders();
  private readonly nodeId: string | undefined;
  private readonly definitions = new Map<string, CollectionDefinition>();
  private readonly specs = new Map<string, CollectionSpec>();
  private readonly clients = new Map<string, CollectionClient<JsonDocument>>();

  constructor(options: DataRouterOptions) {
    this.caller = options.caller;
    this.pipeline = new CallPipeline(options.caller);
    this.maps = options.maps;
    this.logger = (options.logger ?? silentLogger).child({ component: 'data-router' });
    this.maxAttempts = options.maxAttempts ?? 40;
    this.nodeId = options.nodeId;
    for (const def of options.collections ?? []) {
      this.register(def);
      this.exposeByName(def);
    }
  }

  /**
   * `ctx.data.links` as well as `ctx.data.collection(links)`: each configured collection is a
   * property named after it, unless the name is taken by the router's own members.
   */
  private exposeByName(def: AnyCollectionDefinition): void {
    if (def.name in this) {
      this.logger.warn({ collection: def.name }, 'collection name clashes with a router member; use ctx.data.collection(def)');
      return;
    }
    Object.defineProperty(this, def.name, { value: this.collection(def), enumerable: true });
  }

  /** Typed access to one collection: `ctx.data.collection(links).get(code)`. */
  collection<Doc extends JsonDocument>(def: CollectionDefinition<Doc>): CollectionClient<Doc> {
    let client = this.clients.get(def.name);
    if (!client || this.definitions.get(def.name) !== (def as unknown as CollectionDefinition)) {
      this.register(def as unknown as CollectionDefinition);
      client = new CollectionClient<JsonDocument>(this, def as unknown as CollectionDefinition);
      this.clients.set(def.name, client);
    }
    return client as unknown as CollectionClient<Doc>;
  }

  /** The spec of a collection this router knows, by name (admin calls name collections). */
  spec(name: string): CollectionSpec {
    const spec = this.specs.get(name);
    if (!spec) throw new ShoalError('NOT_FOUND', `unknown collection "${name}"`, { collections: [...this.specs.keys()] });
    return spec;
  }

  definition(name: string): CollectionDefinition {
    const def = this.definitions.get(name);
    if (!def) throw new ShoalError('NOT_FOUND', `unknown collection "${name}"`, { collections: [...this.definitions.keys()] });
    return def;
  }

  private register(def: CollectionDefinition): void {
    this.definitions.set(def.name, def);
    this.specs.set(def.name, collectionSpec(def));
  }

  /** One operation on the shard holding `key`. */
  async single<T>(collection: string, key: string, action: string, params: Record<string, unknown>): Promise<T> {
    const spec = this.spec(collection);
    const placement = placementOf(spec.group);
    const slot = slotOf(key);
    const pipelined = PIPELINED.has(action);
    // Each attempt is its own op: after a redirect it is sent again alone, with the refreshed map.
    const follower = params.consistency === 'follower';
    try {
      return await this.withRetry(`${action} ${collection}`, async (map) => {
        const { shard } = map.locate(placement, slot);
        const node = (follower ? this.leaders.nearest(map, shard, this.nodeId) : this.leaders.nodeFor(map, shard))!;
        const sent = { ...params, collection, slot, key, mapVersion: map.version };
        return (await this.toShard(map, shard, node, pipelined ? this.pipeline.call(node, action, sent) : this.caller.call('$data', 1, action, sent, { node }))) as T;
      }, !WRITES.has(action));
    } catch (err) {
      throw (WRITES.has(action) && uncertainWrite(err)) || err;
    }
  }

  /** Awaits a call to one of a shard's replicas, learning from a refusal where its leader is. */
  private async toShard<T>(map: ShardMap, shard: number, node: string, call: Promise<T>): Promise<T> {
    try {
      return await call;
    } catch (err) {
      const code = toShoalError(err).code;
      if (notApplied(err) || code === 'UNAVAILABLE' || code === 'TIMEOUT') this.leaders.learn(map, shard, node, err);
      throw err;
    }
  }

  /** Reads many documents, one call per shard, answers in the order asked. */
  async getMany(collection: string, refs: ReadonlyArray<{ key: string; id: string }>): Promise<Array<StoredDocument | undefined>> {
    const spec = this.spec(collection);
    const placement = placementOf(spec.group);
    const out = new Array<StoredDocument | undefined>(refs.length);
    let pending = refs.map((ref, index) => ({ ...ref, slot: slotOf(ref.key), index }));
    for (let attempt = 1; pending.length > 0; attempt++) {
      const map = await this.currentMap();
      // By shard, not by node: a node may lead several shards (its own and one whose home node
      // died), and a shard answers only for its own slots.
      const byShard = new Map<number, typeof pending>();
      for (const ref of pending) {
        const { shard } = map.locate(placement, ref.slot);
        let list = byShard.get(shard);
        if (!list) byShard.set(shard, (list = []));
        list.push(ref);
      }
      const retry: typeof pending = [];
      let lastError: unknown;
      let newestVersion = 0;
      await Promise.all(
        [...byShard].map(async ([shard, group]) => {
          const node = this.leaders.nodeFor(map, shard)!;
          try {
            const docs = (await this.caller.call(
              '$data',
              1,
              'shardGetMany',
              { collection, mapVersion: map.version, refs: group.map((r) => ({ key: r.key, id: r.id, slot: r.slot })) },
              { node },
            )) as Array<StoredDocument | null>;
            group.forEach((r, i) => (out[r.index] = docs[i] ?? undefined));
          } catch (err) {
            if (!notApplied(err)) throw err;
            this.leaders.learn(map, shard, node, err);
            newestVersion = Math.max(newestVersion, redirectOf(err)?.mapVersion ?? 0);
            lastError = err;
            retry.push(...group);
          }
        }),
      );
      pending = retry;
      if (pending.length > 0) await this.afterRefusal(lastError, newestVersion, map, attempt, `getMany ${collection}`);
    }
    return out;
  }

  /**
   * A query over every shard of the collection's placement (one shard when the where clause
   * pins the partition key): each shard filters, sorts, limits and pre-aggregates its slots,
   * the partial results merge here.
   */
  async query(collection: string, rawQuery: unknown): Promise<ReturnType<typeof mergeShardResults>> {
    const spec = this.spec(collection);
    const checked = checkQuery(rawQuery);
    // Shards get the query as written; each checks it again before touching SQL.
    const query = (rawQuery ?? {}) as Query;
    const placement = placementOf(spec.group);
    const pinned = pinnedKey(checked.where, spec.keyField);
    return this.withRetry(`query ${collection}`, async (map) => {
      let targets: Array<{ shard: number; node: string; slots: number[] }>;
      if (pinned !== undefined) {
        const slot = slotOf(pinned);
        targets = [{ ...map.locate(placement, slot), slots: [slot] }];
      } else {
        targets = map.shardsOf(placement);
        if (targets.length === 0) map.locate(placement, 0);
      }
      const results = await Promise.all(
        targets.map((t) => {
          const node = this.leaders.nodeFor(map, t.shard)!;
          return this.toShard(map, t.shard, node, this.caller.call('$data', 1, 'shardQuery', { collection, shard: t.shard, mapVersion: map.version, slots: compactSlots(t.slots), query }, { node }) as Promise<ShardQueryResult>);
        }),
      );
      return mergeShardResults(checked, results);
    }, true);
  }

  /** Shards a query would touch; for tests and explain-style tooling. */
  queryTargets(collection: string, rawQuery: unknown): Array<{ shard: number; node: string }> {
    const spec = this.spec(collection);
    const pinned = pinnedKey(checkQuery(rawQuery).where, spec.keyField);
    const placement = placementOf(spec.group);
    const map = this.maps.map;
    if (pinned !== undefined) return [map.locate(placement, slotOf(pinned))];
    return map.shardsOf(placement).map(({ shard, node }) => ({ shard, node }));
  }

  private async currentMap(): Promise<ShardMap> {
    if (this.maps.version === 0) await this.maps.refresh().catch(() => undefined);
    return this.maps.map;
  }

  /** Runs an operation until it is answered; `idempotent` ones (reads) are also tried again after a failure that may have reached the node. */
  private async withRetry<T>(what: string, run: (map: ShardMap) => Promise<T>, idempotent = false): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const map = await this.currentMap();
      try {
        return await run(map);
      } catch (err) {
        const code = toShoalError(err).code;
        const again = notApplied(err) || (code === 'UNAVAILABLE' && map.version === 0) || (idempotent && (code === 'UNAVAILABLE' || code === 'TIMEOUT'));
        if (!again) throw err;
        await this.afterRefusal(err, redirectOf(err)?.mapVersion ?? 0, map, attempt, what);
      }
    }
  }

  /** Between attempts: read the newer map a redirect names (or any newer one), back off, give up after maxAttempts. */
  private async afterRefusal(err: unknown, newerVersion: number, map: ShardMap, attempt: number, what: string): Promise<void> {
    if (attempt >= this.maxAttempts) {
      const e = toShoalError(err);
      if (redirectOf(e)) throw new ShoalError('UNAVAILABLE', `${what}: the shard map kept changing; gave up after ${attempt} attempts`, { mapVersion: map.version });
      throw e;
    }
    this.logger.debug({ what, attempt, err: toShoalError(err).message }, 'data operation refused; retrying');
    if (redirectOf(err) || newerVersion > 0) {
      const fresh = await this.maps.refresh().catch(() => map);
      if (fresh.version > map.version) return;
    }
    await sleep(Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** (attempt - 1)));
  }
}
