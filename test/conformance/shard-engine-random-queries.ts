/**
 * ShardEngine conformance, differential: the same documents in one engine and split by slot
 * over four engines; every random query must answer the same through mergeShardResults either
 * way.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { collectionSpec, defineCollection, documentRefOf } from '../../src/data/collection.ts';
import { mergeShardResults } from '../../src/data/query/index.ts';
import { slotOf } from '../../src/data/slots.ts';
import { SLOT_COUNT, type AggregateOp, type JsonDocument, type Query, type Scalar, type ShardEngine, type Where } from '../../src/data/types.ts';
import { seededRandom, testSeed, type Random } from '../support/data-random.ts';
import type { EngineOpener } from './shard-engine-support.ts';

const SHARDS = 4;
const DOCS = 600;
const QUERIES = 300;
const items = defineCollection({ name: 'items', key: 'k', id: 'i', indexes: [{ name: 'by_cat', fields: ['cat'] }, { name: 'by_n', fields: ['n', 'f'] }] });

const FIELDS = ['cat', 'n', 'f', 'b', 's', 'o.x', 'missing'];
const CATEGORIES = ['a', 'b', 'c', 'B', 'ä', '😀', '\uFF21'];
const WORDS = ['', 'x', 'xy', 'xyz', 'y', 'Y', 'é', '10'];

function maybe<T>(random: Random, value: () => T): T | undefined {
  const roll = random.next();
  if (roll < 0.1) return undefined;
  if (roll < 0.17) return null as T;
  return value();
}

function randomDoc(random: Random, index: number): JsonDocument {
  const doc: JsonDocument = { k: `key${random.int(0, 150)}`, i: `id${index}` };
  const fields: Record<string, unknown> = {
    cat: maybe(random, () => random.pick(CATEGORIES)),
    n: maybe(random, () => (random.chance(0.1) ? random.pick(WORDS) : random.int(-5, 5))),
    f: maybe(random, () => (random.next() - 0.5) * 1000),
    b: maybe(random, () => random.chance(0.5)),
    s: maybe(random, () => random.pick(WORDS)),
    o: maybe(random, () => (random.chance(0.8) ? { x: maybe(random, () => random.int(0, 3)) } : 'flat')),
  };
  for (const [name, value] of Object.entries(fields)) if (value !== undefined) doc[name] = value;
  return doc;
}

function randomValue(random: Random, field: string): Scalar {
  const roll = random.next();
  if (roll < 0.08) return null;
  if (roll < 0.16) return random.chance(0.5);
  if (roll < 0.24) return random.pick(WORDS);
  switch (field) {
    case 'cat':
      return random.pick(CATEGORIES);
    case 's':
      return random.pick(WORDS);
    case 'f':
      return Math.round((random.next() - 0.5) * 1000);
    default:
      return random.int(-5, 5);
  }
}

function randomLeaf(random: Random): Where {
  const field = random.pick(FIELDS);
  const op = random.pick(['plain', 'eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'in', 'nin', 'prefix', 'exists', 'range']);
  const rangeValue = (): string | number | boolean => {
    const v = randomValue(random, field);
    return v === null ? 0 : v;
  };
  switch (op) {
    case 'plain':
      return { [field]: randomValue(random, field) };
    case 'eq':
    case 'ne':
      return { [field]: { [op]: randomValue(random, field) } };
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte':
      return { [field]: { [op]: rangeValue() } };
    case 'range':
      return { [field]: { gte: rangeValue(), lt: rangeValue() } };
    case 'in':
    case 'nin':
      return { [field]: { [op]: Array.from({ length: random.int(0, 4) }, () => randomValue(random, field)) } };
    case 'prefix':
      return { [field]: { prefix: random.pick(['', 'x', 'xy', 'a', 'Y', '😀', '1']) } };
    default:
      return { [field]: { exists: random.chance(0.5) } };
  }
}

function randomWhere(random: Random, depth: number): Where {
  if (depth >= 2 || random.chance(0.45)) return randomLeaf(random);
  const kind = random.pick(['and', 'or', 'not', 'multi']);
  if (kind === 'not') return { not: randomWhere(random, depth + 1) };
  if (kind === 'multi') return { ...randomLeaf(random), ...randomLeaf(random) };
  return { [kind]: Array.from({ length: random.int(0, 3) }, () => randomWhere(random, depth + 1)) } as Where;
}

function randomQuery(random: Random): Query {
  const query: Query = {};
  if (random.chance(0.8)) query.where = randomWhere(random, 0);
  if (random.chance(0.7)) query.limit = random.pick([0, 1, 2, 5, 10, 37, 100, 1000]);
  if (random.chance(0.65)) {
    const fields = shuffle(random, ['cat', 'n', 'f', 'b', 's', 'o.x', 'o', 'missing']).slice(0, random.int(0, 2));
    if (fields.length > 0) query.orderBy = fields.map((field) => ({ field, direction: random.pick(['asc', 'desc'] as const) }));
    if (random.chance(0.3)) query.select = shuffle(random, ['cat', 'n', 'f', 'o', 'o.x', 'missing']).slice(0, random.int(1, 3));
    return query;
  }
  const groupBy = shuffle(random, ['cat', 'b', 'n', 'o.x', 's']).slice(0, random.int(0, 2));
  if (groupBy.length > 0) query.groupBy = groupBy;
  const aggregate: NonNullable<Query['aggregate']> = {};
  const ops: AggregateOp[] = ['count', 'sum', 'min', 'max', 'avg'];
  for (let i = 0; i < random.int(1, 4); i++) {
    const op = random.pick(ops);
    aggregate[`a${i}`] = op === 'count' && random.chance(0.5) ? { op } : { op, field: random.pick(['n', 'f', 'cat', 'b', 'o.x', 'missing']) };
  }
  query.aggregate = aggregate;
  const orderable = [...groupBy, ...Object.keys(aggregate)];
  const orderFields = shuffle(random, orderable).slice(0, random.int(0, 2));
  if (orderFields.length > 0) query.orderBy = orderFields.map((field) => ({ field, direction: random.pick(['asc', 'desc'] as const) }));
  if (query.limit === undefined && random.chance(0.3)) query.limit = random.int(1, 5);
  delete query.select;
  return query;
}

function shuffle<T>(random: Random, values: T[]): T[] {
  const out = [...values];
  for (let i = out.length - 1; i > 0; i--) {
    const j = random.int(0, i);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** Deep equality, with a relative tolerance for numbers (float sums depend on addition order). */
function sameResult(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number') return a === b || Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => sameResult(v, b[i]));
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a).sort();
    const kb = Object.keys(b).sort();
    return sameResult(ka, kb) && ka.every((k) => sameResult((a as JsonDocument)[k], (b as JsonDocument)[k]));
  }
  return a === b;
}

export function randomQueryCases(engines: EngineOpener): void {
  describe('cross-shard queries equal a single database', () => {
    const seed = testSeed(Date.now() % 1_000_000);
    let single: ShardEngine;
    let shards: ShardEngine[];
    const shardSlots: number[][] = Array.from({ length: SHARDS }, () => []);
    for (let slot = 0; slot < SLOT_COUNT; slot++) shardSlots[Math.floor((slot * SHARDS) / SLOT_COUNT)].push(slot);

    before(async () => {
      single = (await engines.fresh('single')).engine;
      shards = [];
      for (let i = 0; i < SHARDS; i++) shards.push((await engines.fresh(`shard${i}`)).engine);
      for (const engine of [single, ...shards]) await engine.ensureCollection(collectionSpec(items));
      const random = seededRandom(seed);
      for (let i = 0; i < DOCS; i++) {
        const doc = randomDoc(random, i);
        const ref = documentRefOf(items, doc);
        const slot = slotOf(ref.key);
        await single.put('items', ref, slot, doc);
        await shards[Math.floor((slot * SHARDS) / SLOT_COUNT)].put('items', ref, slot, doc);
      }
    });

    it(`answers ${QUERIES} random queries identically`, async () => {
      const random = seededRandom(seed ^ 0x5eed);
      let rowsQueries = 0;
      let groupQueries = 0;
      let nonEmpty = 0;
      for (let n = 0; n < QUERIES; n++) {
        const query = randomQuery(random);
        const expected = mergeShardResults(query, [await single.query('items', query)]);
        const merged = mergeShardResults(query, await Promise.all(shards.map((engine, i) => engine.query('items', query, shardSlots[i]))));
        if (!sameResult(merged, expected)) {
          assert.deepEqual(merged, expected, `query #${n} differs (seed ${seed}; rerun with SHOAL_TEST_SEED=${seed}): ${JSON.stringify(query)}`);
        }
        if (query.aggregate) groupQueries++;
        else rowsQueries++;
        if (expected.length > 0) nonEmpty++;
      }
      // The generator must exercise both modes and mostly produce answers worth comparing.
      assert.ok(rowsQueries > 100 && groupQueries > 50, `rows ${rowsQueries}, groups ${groupQueries} (seed ${seed})`);
      assert.ok(nonEmpty > QUERIES / 2, `only ${nonEmpty} queries had results (seed ${seed})`);
    });

    it('returns every document once for an unfiltered query', async () => {
      const all = mergeShardResults({ limit: 10_000 }, await Promise.all(shards.map((engine, i) => engine.query('items', { limit: 10_000 }, shardSlots[i]))));
      assert.equal(all.length, DOCS);
      assert.equal(new Set(all.map((row) => `${row._key}/${row._id}`)).size, DOCS);
    });
  });
}
