import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Coordinator } from '../../src/control/index.ts';
import { ShardMapCache } from '../../src/data/map/map-cache.ts';
import { redirectError } from '../../src/data/map/redirect.ts';
import { ShardMap, encodeRanges } from '../../src/data/map/shard-map.ts';
import { DataRouter, type DataCaller } from '../../src/data/router/data-router.ts';
import { defineCollection } from '../../src/data/collection.ts';
import { slotOf } from '../../src/data/slots.ts';
import { SLOT_COUNT } from '../../src/data/types.ts';

const items = defineCollection<{ key: string; n: number }>({ name: 'items', key: 'key' });

/** A map whose two shards both have n1 as their first replica, as after the home node of one of them died. */
function twoShardsOnOneNode(): ShardMap {
  const table = new Int32Array(SLOT_COUNT);
  for (let slot = 0; slot < SLOT_COUNT; slot++) table[slot] = slot < SLOT_COUNT / 2 ? 1 : 2;
  return new ShardMap(
    {
      shards: { '1': { id: 1, placement: '*', replicas: ['n1', 'n2'] }, '2': { id: 2, placement: '*', replicas: ['n1', 'n2'] } },
      placements: { '*': encodeRanges(table) },
      nextShardId: 3,
      writerToken: 1,
    },
    1,
  );
}

describe('data router: getMany', () => {
  it('reads keys of two shards led by the same node, one call per shard', async () => {
    const map = twoShardsOnOneNode();
    const calls: number[] = [];
    // Like a node: a getMany whose slots span shards is refused.
    const caller: DataCaller = {
      call: async (_service, _version, action, params) => {
        assert.equal(action, 'shardGetMany');
        const refs = (params as { refs: Array<{ key: string; slot: number }> }).refs;
        const shards = new Set(refs.map((r) => map.shardOf('*', r.slot)));
        calls.push(shards.size);
        if (shards.size > 1) throw redirectError('a getMany spanning shards', map.version);
        return refs.map((r) => ({ key: r.key, id: r.key, version: 1, doc: { key: r.key, n: Number(r.key.slice(1)) } }));
      },
    };
    const maps = new ShardMapCache({} as Coordinator);
    maps.offer(map);
    const router = new DataRouter({ caller, maps, collections: [items], maxAttempts: 3 });
    const keys = Array.from({ length: 40 }, (_, i) => `k${i}`);
    const spread = new Set(keys.map((k) => map.shardOf('*', slotOf(k))));
    assert.equal(spread.size, 2, 'the keys fall in both shards');

    const docs = await router.collection(items).getMany(keys);
    assert.deepEqual(docs.map((d) => d?.doc.n), keys.map((_, i) => i));
    assert.deepEqual(calls, [1, 1], 'one call per shard, none refused');
  });
});
