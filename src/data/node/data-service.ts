import { z } from 'zod';
import { action, defineService } from '../../core/index.ts';
import type { ShardOps } from './shard-ops.ts';
import type { DataAdmin } from './data-admin.ts';

const slot = z.number().int().min(0).max(4095);
const mapVersion = z.number().int().min(0);
const doc = z.record(z.string(), z.unknown());
const ref = { collection: z.string().min(1), slot, mapVersion, key: z.string(), id: z.string() };
const expectVersion = z.number().int().min(0).optional();
const ranges = z.array(z.tuple([slot, slot])).max(4096);
const storedDoc = z.object({ collection: z.string(), key: z.string(), id: z.string(), version: z.number().int(), doc });
const change = z.object({
  seq: z.number(),
  collection: z.string(),
  slot,
  key: z.string(),
  id: z.string(),
  after: z.object({ key: z.string(), id: z.string(), version: z.number().int(), doc }).nullable(),
});
const moveShard = { shard: z.number().int().min(1), mapVersion };

/**
 * The built-in `$data` service every data node hosts. Per-shard operations carry the caller's
 * map version and slot so the node can redirect a stale caller; move operations are the
 * rebalancer's; the rest are admin actions for `shoal call $data.<action>`.
 */
export function dataService(ops: ShardOps, admin: DataAdmin) {
  return defineService({
    name: '$data',
    version: 1,
    actions: {
      shardGet: action({ params: z.object(ref), idempotent: true, handler: (_ctx, p) => ops.get(p) }),
      shardGetMany: action({
        params: z.object({ collection: z.string().min(1), mapVersion, refs: z.array(z.object({ key: z.string(), id: z.string(), slot })).max(10_000) }),
        idempotent: true,
        handler: (_ctx, p) => ops.getMany(p),
      }),
      shardPut: action({ params: z.object({ ...ref, doc, expectVersion }), handler: (_ctx, p) => ops.put(p) }),
      shardUpdate: action({ params: z.object({ ...ref, changes: doc, expectVersion }), handler: (_ctx, p) => ops.update(p) }),
      shardDelete: action({ params: z.object({ ...ref, expectVersion }), handler: (_ctx, p) => ops.delete(p) }),
      shardIncrement: action({ params: z.object({ ...ref, deltas: z.record(z.string(), z.number()) }), handler: (_ctx, p) => ops.increment(p) }),
      shardScan: action({
        params: z.object({
          collection: z.string().min(1),
          slot,
          mapVersion,
          key: z.string(),
          idPrefix: z.string().optional(),
          index: z.string().optional(),
          limit: z.number().int().min(1).max(10_000).optional(),
          after: z.string().optional(),
        }),
        idempotent: true,
        handler: (_ctx, p) => ops.scan(p),
      }),
      shardQuery: action({
        params: z.object({ collection: z.string().min(1), shard: z.number().int().min(1), mapVersion, slots: ranges, query: z.record(z.string(), z.unknown()) }),
        idempotent: true,
        handler: (_ctx, p) => ops.query(p),
      }),
      shardStats: action({ params: z.object({}), idempotent: true, handler: () => ops.stats() }),

      moveBegin: action({ params: z.object(moveShard), handler: (_ctx, p) => ops.moveBegin(p) }),
      moveExport: action({
        params: z.object({ ...moveShard, slot, afterRowId: z.number().int().optional(), limit: z.number().int().min(1).max(10_000) }),
        idempotent: true,
        handler: (_ctx, p) => ops.moveExport(p),
      }),
      moveImport: action({ params: z.object({ ...moveShard, slot, documents: z.array(storedDoc) }), handler: (_ctx, p) => ops.moveImport(p) }),
      moveChanges: action({
        params: z.object({ ...moveShard, since: z.number().int().min(0), first: slot, last: slot, limit: z.number().int().min(1).max(10_000) }),
        idempotent: true,
        handler: (_ctx, p) => ops.moveChanges(p),
      }),
      moveApply: action({ params: z.object({ ...moveShard, first: slot, last: slot, changes: z.array(change) }), handler: (_ctx, p) => ops.moveApply(p) }),
      fence: action({ params: z.object({ ...moveShard, move: z.string(), first: slot, last: slot }), handler: (_ctx, p) => ops.fence(p) }),
      unfence: action({ params: z.object({ mapVersion, move: z.string() }), handler: (_ctx, p) => ops.unfence(p) }),
      dropSlots: action({ params: z.object({ ...moveShard, first: slot, last: slot }), handler: (_ctx, p) => ops.dropSlots(p) }),

      query: action({
        params: z.object({ collection: z.string().min(1), query: z.record(z.string(), z.unknown()).default({}) }),
        idempotent: true,
        description: 'Runs a query across every shard of a collection',
        handler: (_ctx, p) => admin.query(p.collection, p.query),
      }),
      get: action({
        params: z.object({ collection: z.string().min(1), key: z.string(), id: z.string().optional() }),
        idempotent: true,
        description: 'Reads one document by partition key (and id)',
        handler: (_ctx, p) => admin.get(p.collection, p.key, p.id),
      }),
      map: action({ params: z.object({}), idempotent: true, description: 'The shard map: version, shards, slot ranges', handler: () => admin.map() }),
      hotSlots: action({
        params: z.object({ limit: z.number().int().min(1).max(4096).default(20) }),
        idempotent: true,
        description: 'Busiest slots across the cluster by reads and writes',
        handler: (_ctx, p) => admin.hotSlots(p.limit),
      }),
      rebalanceStatus: action({ params: z.object({}), idempotent: true, description: 'Rebalancer leader, moves in flight and progress', handler: () => admin.rebalanceStatus() }),
    },
  });
}

export type DataService = ReturnType<typeof dataService>;
