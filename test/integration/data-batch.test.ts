import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ShoalError } from '../../src/core/index.ts';
import { DataRouter, ShardMap, defineCollection, slotOf, type DataCaller, type ShardMapCache } from '../../src/data/index.ts';
import { DataCluster } from '../support/data-cluster.ts';

const items = defineCollection<{ name: string; n: number }>({ name: 'items', key: 'name' });

interface Call {
  action: string;
  node: string;
  keys: string[];
}

/**
 * A map cache that first serves a map in which one slot points at the wrong node, as a router
 * that missed a move would hold; a refresh brings back the true map.
 */
function staleFor(maps: ShardMapCache, slot: number, wrongShard: number): ShardMapCache {
  const real = maps.map;
  const placements = Object.fromEntries(
    Object.entries(real.data.placements).map(([placement, ranges]) => [
      placement,
      ranges.flatMap(([first, last, shard]) => {
        if (slot < first || slot > last) return [[first, last, shard] as [number, number, number]];
        const out: Array<[number, number, number]> = [];
        if (first < slot) out.push([first, slot - 1, shard]);
        out.push([slot, slot, wrongShard]);
        if (slot < last) out.push([slot + 1, last, shard]);
        return out;
      }),
    ]),
  );
  const stale = new ShardMap({ ...real.data, placements }, real.version);
  let fresh = false;
  return {
    get map() {
      return fresh ? maps.map : stale;
    },
    get version() {
      return fresh ? maps.version : stale.version;
    },
    refresh() {
      fresh = true;
      return maps.refresh();
    },
  } as unknown as ShardMapCache;
}

describe('data router batching', () => {
  const cluster = new DataCluster({ collections: [items] });
  let client: Awaited<ReturnType<DataCluster['router']>>;
  let calls: Call[] = [];
  const counting = (): DataCaller => ({
    call: (service, version, action, params, options) => {
      const p = params as { key?: string; ops?: Array<{ params: { key: string } }> };
      calls.push({ action, node: options?.node ?? '?', keys: p.ops ? p.ops.map((op) => op.params.key) : [p.key ?? ''] });
      return client.broker.call(service, version, action, params, options);
    },
  });

  /** A key whose slot another node leads, and keys on that other node. */
  function layout(): { moved: string; wrongShard: number; wrongNode: string; neighbours: string[] } {
    const map = client.maps.map;
    const moved = 'moved-key';
    const home = map.locate('*', slotOf(moved));
    const other = map.shardsOf('*').find((s) => s.node !== home.node)!;
    const neighbours: string[] = [];
    for (let i = 0; neighbours.length < 3; i++) {
      const key = `n-${i}`;
      if (map.locate('*', slotOf(key)).node === other.node && slotOf(key) !== slotOf(moved)) neighbours.push(key);
    }
    return { moved, wrongShard: other.shard, wrongNode: other.node, neighbours };
  }

  before(async () => {
    await cluster.start(['n1', 'n2', 'n3']);
    await cluster.waitBalanced();
    client = await cluster.router();
  });
  after(() => cluster.stop());

  it('coalesces concurrent gets per node and retries a redirected one alone', async () => {
    const { moved, wrongShard, wrongNode, neighbours } = layout();
    const seed = client.router.collection(items);
    for (const name of [moved, ...neighbours]) await seed.put({ name, n: name.length });
    const router = new DataRouter({ caller: counting(), maps: staleFor(client.maps, slotOf(moved), wrongShard), collections: [items] });
    calls = [];
    const docs = await Promise.all([neighbours[0], moved, neighbours[1], neighbours[2]].map((name) => router.collection(items).get(name)));
    assert.deepEqual(docs.map((d) => d?.doc.name), [neighbours[0], moved, neighbours[1], neighbours[2]]);
    // One batch to the wrong node held all four; only the redirected get went again, by itself.
    const batch = calls.find((c) => c.action === 'shardBatch');
    assert.ok(batch, JSON.stringify(calls));
    assert.equal(batch.node, wrongNode);
    assert.deepEqual(batch.keys, [neighbours[0], moved, neighbours[1], neighbours[2]]);
    const after = calls.slice(calls.indexOf(batch) + 1);
    assert.deepEqual(after.map((c) => [c.action, c.keys]), [['shardGet', [moved]]]);
    assert.notEqual(after[0].node, wrongNode);
  });

  it('applies each batched write once: a redirected put is retried alone, a failed compare-and-set fails alone', async () => {
    const { moved, wrongShard, neighbours } = layout();
    const seed = client.router.collection(items);
    for (const name of [moved, ...neighbours]) await seed.delete(name);
    await seed.put({ name: neighbours[2], n: 0 });
    const router = new DataRouter({ caller: counting(), maps: staleFor(client.maps, slotOf(moved), wrongShard), collections: [items] });
    const c = router.collection(items);
    calls = [];
    const answers = await Promise.allSettled([
      c.put({ name: neighbours[0], n: 1 }),
      c.put({ name: moved, n: 2 }),
      c.put({ name: neighbours[1], n: 3 }),
      c.put({ name: neighbours[2], n: 4 }, { expectVersion: 7 }),
    ]);
    assert.deepEqual(answers.map((a) => a.status), ['fulfilled', 'fulfilled', 'fulfilled', 'rejected']);
    const failed = (answers[3] as PromiseRejectedResult).reason as ShoalError;
    assert.equal(failed.code, 'CONFLICT');
    assert.equal((failed.details as { redirect?: boolean } | undefined)?.redirect, undefined);
    assert.equal(calls.filter((call) => call.action === 'shardBatch').length, 1);
    // Each applied exactly once (version 1), the failed one untouched.
    for (const [name, n] of [[neighbours[0], 1], [moved, 2], [neighbours[1], 3]] as const) {
      const doc = await seed.get(name);
      assert.deepEqual([doc?.version, doc?.doc.n], [1, n], name);
    }
    assert.deepEqual((await seed.get(neighbours[2]))?.doc.n, 0);
  });
});
