import { z } from 'zod';
import { action, defineService, errorToWire, validateParams } from '../../core/index.ts';
import type { ShardOps } from './shard-ops.ts';
import type { DataAdmin } from './data-admin.ts';
import type { ReplicaOps } from './replica-ops.ts';

/** Ops per shardBatch; the router sends fewer. */
const MAX_BATCH = 1000;

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

const consistency = z.enum(['leader', 'follower']).optional();
const getParams = z.object({ ...ref, consistency });
const putParams = z.object({ ...ref, doc, expectVersion });
const updateParams = z.object({ ...ref, changes: doc, expectVersion });
const deleteParams = z.object({ ...ref, expectVersion });
const incrementParams = z.object({ ...ref, deltas: z.record(z.string(), z.number()) });

/** The single-document actions a router may send together in one shardBatch. */
const batchable = ['shardGet', 'shardPut', 'shardUpdate', 'shardDelete', 'shardIncrement'] as const;
const batchOp = z.object({ action: z.enum(batchable), params: z.unknown() });

/** One op of a shardBatch, run as its own action would run it (same checks, same answer). */
function runOp(ops: ShardOps, op: z.output<typeof batchOp>): Promise<unknown> {
  const what = `$data.${op.action}`;
  switch (op.action) {
    case 'shardGet':
      return ops.get(validateParams(getParams, op.params, what));
    case 'shardPut':
      return ops.put(validateParams(putParams, op.params, what));
    case 'shardUpdate':
      return ops.update(validateParams(updateParams, op.params, what));
    case 'shardDelete':
      return ops.delete(validateParams(deleteParams, op.params, what));
    case 'shardIncrement':
      return ops.increment(validateParams(incrementParams, op.params, what));
  }
}

/** Every op answers on its own: its value, or its error in wire form (a redirect for one op leaves the others alone). */
async function runBatch(ops: ShardOps, batch: Array<z.output<typeof batchOp>>): Promise<Array<{ value: unknown } | { error: ReturnType<typeof errorToWire> }>> {
  return Promise.all(
    batch.map(async (op) => {
      try {
        return { value: (await runOp(ops, op)) ?? null };
      } catch (err) {
        return { error: errorToWire(err) };
      }
    }),
  );
}

/**
 * The built-in `$data` service every data node hosts. Per-shard operations carry the caller's
 * map version and slot so the node can redirect a stale caller; move operations are the
 * rebalancer's; the rest are admin actions for `shoal call $data.<action>`.
 */
const snapshotMeta = z.object({
  index: z.number().int().min(0),
  term: z.number().int().min(0),
  config: z.object({ voters: z.array(z.string()).max(64), learners: z.array(z.string()).max(64) }),
});

export function dataService(ops: ShardOps, admin: DataAdmin, replicas: ReplicaOps) {
  return defineService({
    name: '$data',
    version: 1,
    actions: {
      shardGet: action({ params: getParams, idempotent: true, handler: (_ctx, p) => ops.get(p) }),
      shardGetMany: action({
        params: z.object({ collection: z.string().min(1), mapVersion, refs: z.array(z.object({ key: z.string(), id: z.string(), slot })).max(10_000), consistency }),
        idempotent: true,
        handler: (_ctx, p) => ops.getMany(p),
      }),
      shardPut: action({ params: putParams, handler: (_ctx, p) => ops.put(p) }),
      shardUpdate: action({ params: updateParams, handler: (_ctx, p) => ops.update(p) }),
      shardDelete: action({ params: deleteParams, handler: (_ctx, p) => ops.delete(p) }),
      shardIncrement: action({ params: incrementParams, handler: (_ctx, p) => ops.increment(p) }),
      // Not idempotent as a whole: it may hold writes.
      shardBatch: action({ params: z.object({ ops: z.array(batchOp).min(1).max(MAX_BATCH) }), handler: (_ctx, p) => runBatch(ops, p.ops) }),
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
          consistency,
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

      // Replication between the replicas of a shard; the messages are checked again by the consensus core.
      raft: action({
        params: z.object({ from: z.string().min(1), groups: z.array(z.object({ shard: z.number().int().min(1), messages: z.array(z.unknown()).max(10_000) })).max(100_000) }),
        handler: (_ctx, p) => replicas.raft(p),
      }),
      replicaProbe: action({ params: z.object({ shard: z.number().int().min(1) }), idempotent: true, handler: (_ctx, p) => replicas.probe(p) }),
      replicaCopy: action({
        params: z.object({ shard: z.number().int().min(1), from: z.string().min(1), transfer: z.string().min(1).max(64), offset: z.number().int().min(0), data: z.string(), last: z.boolean(), meta: snapshotMeta }),
        handler: (_ctx, p) => replicas.copy(p),
      }),
      replicaStatus: action({ params: z.object({}), idempotent: true, description: 'This node\'s shard replicas: role, term, leader, log positions, followers\' lag', handler: () => replicas.status() }),

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
