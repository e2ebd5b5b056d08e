/** ShardEngine conformance: query semantics every driver must share, so that shards' answers merge alike. */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { collectionSpec, defineCollection } from '../../src/data/collection.ts';
import { compareText, mergeShardResults } from '../../src/data/query/index.ts';
import { prefixSuccessor } from '../../src/data/query/where-sql.ts';
import { slotOf } from '../../src/data/slots.ts';
import type { Query, ShardEngine, ShardWrite } from '../../src/data/types.ts';
import type { EngineOpener } from './shard-engine-support.ts';

const things = defineCollection({ name: 'things', key: 'k', indexes: [{ name: 'by_v', fields: ['v'] }] });
const facts = defineCollection({ name: 'facts', key: 'id', indexes: [{ name: 'by_n', fields: ['n'] }] });
const FACTS = 3000;

export function queryCases(engines: EngineOpener): void {
  describe('ordering and matching semantics', () => {
    let engine: ShardEngine;
    const run = async (query: Query) => mergeShardResults(query, [await engine.query('things', query)]);

    before(async () => {
      ({ engine } = await engines.fresh('sem'));
      await engine.ensureCollection(collectionSpec(things));
      const values: unknown[] = [null, undefined, 3, 2.5, true, 'b', 'a', '10', { z: 1 }, '\uFF21', '😀'];
      for (const [i, v] of values.entries()) {
        const doc = v === undefined ? { k: `k${i}` } : { k: `k${i}`, v };
        await engine.put('things', { key: `k${i}`, id: `k${i}` }, slotOf(`k${i}`), doc);
      }
    });

    it('orders like SQLite: NULL and absent first, numbers (true = 1), text by code point, then ties by key', async () => {
      const asc = (await run({ orderBy: [{ field: 'v' }], select: ['v'] })).map((r) => r._key);
      assert.deepEqual(asc, ['k0', 'k1', 'k4', 'k3', 'k2', 'k7', 'k6', 'k5', 'k8', 'k9', 'k10']);
      const desc = (await run({ orderBy: [{ field: 'v', direction: 'desc' }] })).map((r) => r._key);
      assert.deepEqual(desc, ['k10', 'k9', 'k8', 'k5', 'k6', 'k7', 'k2', 'k3', 'k4', 'k0', 'k1']);
      assert.equal(compareText('\uFF21', '😀'), -1);
      assert.equal(prefixSuccessor('a\uD7FF'), 'a\uE000');
    });

    it('keeps range operators within the operand type and treats absent as failing eq, passing ne', async () => {
      assert.deepEqual((await run({ where: { v: { gt: 2 } } })).map((r) => r._key), ['k2', 'k3']);
      assert.deepEqual((await run({ where: { v: { gte: 'a' } } })).map((r) => r._key).sort(), ['k10', 'k5', 'k6', 'k8', 'k9']);
      assert.equal((await run({ where: { v: { ne: 3 } } })).length, 10);
      assert.deepEqual((await run({ where: { not: { v: { gt: 2 } } } })).length, 9);
      assert.deepEqual((await run({ where: { v: { exists: false } } })).map((r) => r._key), ['k0', 'k1']);
      assert.deepEqual((await run({ where: { v: { prefix: '1' } } })).map((r) => r._key), ['k7']);
      assert.deepEqual((await run({ where: { v: { in: [null, 'a'] } } })).map((r) => r._key), ['k0', 'k1', 'k6']);
    });

    it('returns rows with _key, _id and _version, selected fields flat', async () => {
      assert.deepEqual(await run({ where: { k: 'k8' } }), [{ k: 'k8', v: { z: 1 }, _key: 'k8', _id: 'k8', _version: 1 }]);
      assert.deepEqual(await run({ where: { k: 'k8' }, select: ['v.z', 'nope'] }), [{ 'v.z': 1, nope: null, _key: 'k8', _id: 'k8', _version: 1 }]);
    });

    it('aggregates: avg over numbers only, one row without groupBy even when nothing matches', async () => {
      assert.deepEqual(await run({ aggregate: { n: { op: 'count' }, c: { op: 'count', field: 'v' }, s: { op: 'sum', field: 'v' }, a: { op: 'avg', field: 'v' }, lo: { op: 'min', field: 'v' }, hi: { op: 'max', field: 'v' } } }), [
        { n: 11, c: 9, s: 5.5, a: 2.75, lo: 1, hi: '😀' },
      ]);
      assert.deepEqual(await run({ where: { v: 'none' }, aggregate: { n: { op: 'count' }, s: { op: 'sum', field: 'v' } } }), [{ n: 0, s: null }]);
    });
  });

  it('answers a query over exactly the slots asked for, whatever else the shard holds', async () => {
    const { engine } = await engines.fresh('slots');
    await engine.ensureCollection(collectionSpec(facts));
    const slots = new Set<number>();
    const writes: ShardWrite[] = [];
    for (let i = 0; i < FACTS; i++) {
      const id = `f${i}`;
      slots.add(slotOf(id));
      writes.push({ op: 'put', collection: 'facts', ref: { key: id, id }, slot: slotOf(id), doc: { id, n: i } });
    }
    assert.ok((await engine.writeBatch(writes)).every((r) => r.ok));
    const all = [...slots].sort((a, b) => a - b);
    const total = async (asked: number[]) => {
      const result = await engine.query('facts', { aggregate: { c: { op: 'count' } } }, asked);
      assert.ok(result.kind === 'groups');
      return result.groups[0]?.values.c.count ?? 0;
    };
    const rowsIn = (asked: number[]) => [...Array(FACTS).keys()].filter((i) => asked.includes(slotOf(`f${i}`))).length;
    assert.equal(await total(all), FACTS);
    // Few runs (tested as ranges), many runs (a lookup list), one slot (the slot index).
    const half = all.slice(0, Math.floor(all.length / 2));
    const scattered = all.filter((_, i) => i % 3 === 0);
    for (const asked of [half, scattered, [all[5]], [all[0], all[all.length - 1]]]) assert.equal(await total(asked), rowsIn(asked));
    assert.equal(await total([]), 0);
  });
}
