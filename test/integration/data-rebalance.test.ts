import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { eventually } from '../support/eventually.ts';
import { defineCollection, placementOf, type DataRouter, type ShardMap } from '../../src/data/index.ts';
import { DataCluster } from '../support/data-cluster.ts';

type Item = { key: string; writer: number; value: number; [field: string]: unknown };
const items = defineCollection<Item>({ name: 'items', key: 'key' });

/** Every write a writer attempted, by key: what was acknowledged and what may or may not have landed. */
interface KeyHistory {
  lastAcked?: number;
  /** Values of writes that failed after the last acknowledged one: each may have been applied. */
  uncertainAfter: number[];
}

class Writers {
  readonly history = new Map<string, KeyHistory>();
  acked = 0;
  failed = 0;
  private running = true;
  private readonly loops: Promise<void>[];

  constructor(router: DataRouter, concurrency: number, keysPerWriter: number) {
    const collection = router.collection(items);
    this.loops = Array.from({ length: concurrency }, async (_, writer) => {
      for (let n = 0; this.running; n++) {
        const key = `w${writer}-k${n % keysPerWriter}`;
        const value = n;
        let h = this.history.get(key);
        if (!h) this.history.set(key, (h = { uncertainAfter: [] }));
        try {
          await collection.put({ key, writer, value });
          h.lastAcked = value;
          h.uncertainAfter = [];
          this.acked++;
        } catch {
          h.uncertainAfter.push(value);
          this.failed++;
        }
        await sleep(2);
      }
    });
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }
}

describe('online rebalancing under writes', () => {
  const cluster = new DataCluster({ collections: [items], rebalancer: { rangeSize: 128, pageSize: 50 } });
  before(() => cluster.start(['n1', 'n2']));
  after(() => cluster.stop());

  it('keeps every acknowledged write exactly once while a node joins and another leaves', async () => {
    await cluster.waitBalanced();
    const { router } = await cluster.router();
    const seed = router.collection(items);
    // Enough documents that copies take many pages while the writers run.
    for (let i = 0; i < 1500; i += 50) {
      await Promise.all(Array.from({ length: 50 }, (_, j) => seed.put({ key: `seed-${i + j}`, writer: -1, value: i + j })));
    }
    const writers = new Writers(router, 4, 200);
    // Each step goes on once the writers have been seen acknowledging writes in the state before it.
    const moreWrites = async (what: string) => {
      const from = writers.acked;
      await eventually(() => writers.acked >= from + 20, { message: `20 more acknowledged writes ${what}`, timeoutMs: 30_000 });
    };
    await moreWrites('before the join');
    await cluster.addNode('n3');
    const afterJoin = await cluster.waitBalanced();
    assert.equal(afterJoin.shardsOf('*').length, 3);
    await moreWrites('after the join');
    await cluster.removeNode('n1');
    const final = await cluster.waitBalanced();
    await moreWrites('after the leave');
    await writers.stop();
    assert.ok(writers.acked > 100, `writers made progress (${writers.acked} acknowledged, ${writers.failed} failed)`);
    assert.deepEqual(
      final.shardsOf('*').map((s) => s.node).sort(),
      ['n2', 'n3'],
    );

    // Every acknowledged write reads back with its last acknowledged value (or a later attempt's).
    const keys = [...writers.history.keys()];
    const docs = await seed.getMany(keys);
    const wrong: string[] = [];
    keys.forEach((key, i) => {
      const h = writers.history.get(key)!;
      const got = docs[i]?.doc.value;
      const allowed = new Set([...(h.lastAcked === undefined ? [] : [h.lastAcked]), ...h.uncertainAfter]);
      if (h.lastAcked === undefined && got === undefined) return;
      if (!allowed.has(got as number)) wrong.push(`${key}: got ${String(got)}, acked ${String(h.lastAcked)}, uncertain ${h.uncertainAfter.join(',')}`);
    });
    assert.deepEqual(wrong, []);
    const seeds = await seed.getMany(Array.from({ length: 1500 }, (_, i) => `seed-${i}`));
    assert.equal(seeds.filter((d, i) => d?.doc.value === i).length, 1500);

    // Every document is stored exactly once, on the shard the map gives its slot.
    const copies = new Map<string, number>();
    const misplaced: string[] = [];
    for (const node of cluster.nodes.values()) {
      for (const { shard, engine } of node.host.shards.openShards()) {
        for (const [slot, size] of await engine.slotSizes()) {
          if (size === 0) continue;
          if (final.shardOf(placementOf(undefined), slot) !== shard) misplaced.push(`${node.id} shard ${shard} holds ${size} document(s) of slot ${slot}`);
          for (let cursor: number | undefined, done = false; !done; ) {
            const page = await engine.exportSlot(slot, cursor === undefined ? { limit: 1000 } : { afterRowId: cursor, limit: 1000 });
            for (const d of page.documents) copies.set(`${d.collection}/${d.key}`, (copies.get(`${d.collection}/${d.key}`) ?? 0) + 1);
            cursor = page.lastRowId;
            done = page.done;
          }
        }
      }
    }
    assert.deepEqual(misplaced, []);
    assert.deepEqual([...copies].filter(([, n]) => n !== 1), []);
    const present = [...writers.history].filter(([, h]) => h.lastAcked !== undefined).map(([k]) => `items/${k}`);
    for (const key of present) assert.equal(copies.get(key), 1, key);
    assertCovered(final);
  });
});

/** Every slot has an owner on a live shard. */
function assertCovered(map: ShardMap): void {
  const owned = map.shardsOf('*').reduce((n, s) => n + s.slots.length, 0);
  assert.equal(owned, 4096);
}
