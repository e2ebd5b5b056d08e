import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { eventually } from '../support/eventually.ts';
import { defineCollection, ShardMapCache, SLOT_COUNT, slotOf } from '../../src/data/index.ts';
import { DataCluster } from '../support/data-cluster.ts';

const orders = defineCollection<{ id: string; total: number }>({ name: 'orders', key: 'id' });
const events = defineCollection<{ id: string; kind: string }>({ name: 'events', key: 'id', group: 'analytics' });

describe('vertical partitioning: a collection placed on a named group of nodes', () => {
  const cluster = new DataCluster({ collections: [orders, events] });

  before(async () => {
    await cluster.harness.start();
    await cluster.addNode('a1');
    await cluster.addNode('a2');
    await cluster.addNode('g1', ['analytics']);
    await cluster.waitBalanced();
  });
  after(() => cluster.stop());

  it('keeps the group collection on the group nodes only while the rest spreads over every node', async () => {
    const maps = new ShardMapCache(cluster.harness.coordinator());
    await maps.start();
    let analyticsShards: number[] = [];
    try {
      const map = await eventually(async () => {
        const current = await maps.refresh();
        return current.hasPlacement('analytics') && current;
      }, { message: 'the analytics placement in the map', timeoutMs: 10_000 });
      for (let slot = 0; slot < SLOT_COUNT; slot += 97) assert.equal(map.locate('analytics', slot).node, 'g1');
      const general = new Set(map.shardsOf('*').map((h) => h.node));
      assert.deepEqual([...general].sort(), ['a1', 'a2', 'g1']);
      analyticsShards = map.shardsOf('analytics').map((h) => h.shard);
    } finally {
      maps.close();
    }

    const { router } = await cluster.router();
    for (let i = 0; i < 40; i++) {
      await router.collection(events).put({ id: `e${i}`, kind: i % 2 ? 'click' : 'view' });
      await router.collection(orders).put({ id: `o${i}`, total: i });
    }
    assert.equal((await router.collection(events).get('e7'))?.doc.kind, 'click');
    const counts = await router.collection(events).query({ groupBy: ['kind'], aggregate: { n: { op: 'count' } }, orderBy: [{ field: 'kind' }] });
    assert.deepEqual(counts, [{ kind: 'click', n: 20 }, { kind: 'view', n: 20 }]);
    // Every event document is stored in g1's analytics shards, whichever slot its key hashes to.
    const slots = new Set(Array.from({ length: 40 }, (_, i) => slotOf(`e${i}`)));
    assert.ok(slots.size > 10, 'keys spread over many slots');
    type Stats = { shards: Array<{ shard: number; documents: number }> };
    const stats = async (id: string) => (await cluster.nodes.get(id)!.broker.call('$data', 1, 'shardStats', {}, { node: id })) as Stats;
    const g1 = await stats('g1');
    const inAnalytics = g1.shards.filter((s) => analyticsShards.includes(s.shard)).reduce((n, s) => n + s.documents, 0);
    assert.equal(inAnalytics, 40);
    for (const id of ['a1', 'a2']) {
      assert.equal((await stats(id)).shards.some((s) => analyticsShards.includes(s.shard)), false, `${id} holds no analytics shard`);
    }
  });
});
