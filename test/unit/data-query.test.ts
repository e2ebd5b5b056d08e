import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { z } from 'zod';
import { collectionSpec, defineCollection, documentRefOf, partitionKeyOf, validateDocument } from '../../src/data/collection.ts';
import { checkQuery, compareText, compileQuery, mergeShardResults } from '../../src/data/query/index.ts';
import { prefixSuccessor } from '../../src/data/query/where-sql.ts';
import { slotOf } from '../../src/data/slots.ts';
import type { SqliteShardEngine } from '../../src/data/sqlite/index.ts';
import type { Query } from '../../src/data/types.ts';
import { engineDir, type EngineDir } from '../support/data-engines.ts';

function rejects(work: () => unknown, code: string, pattern: RegExp): void {
  assert.throws(work, (err: { code?: string; message?: string }) => {
    assert.equal(err.code, code, err.message);
    assert.match(err.message ?? '', pattern);
    return true;
  });
}

describe('collections', () => {
  const people = defineCollection({ name: 'people', key: 'team', id: 'email', schema: z.object({ team: z.union([z.string(), z.number()]), email: z.string().email(), age: z.number().int().optional() }), maxDocumentBytes: 200 });

  it('checks definitions', () => {
    rejects(() => defineCollection({ name: 'bad name', key: 'k' }), 'BAD_REQUEST', /collection name/);
    rejects(() => defineCollection({ name: 'a__b', key: 'k' }), 'BAD_REQUEST', /collection name/);
    rejects(() => defineCollection({ name: 'ok', key: 'k-1' }), 'BAD_REQUEST', /key/);
    rejects(() => defineCollection({ name: 'ok', key: 'k', indexes: [{ name: 'i', fields: ['a'] }, { name: 'i', fields: ['b'] }] }), 'BAD_REQUEST', /twice/);
    assert.deepEqual(collectionSpec(people), { name: 'people', keyField: 'team', idField: 'email', indexes: [], maxDocumentBytes: 200 });
    assert.equal(collectionSpec(defineCollection({ name: 'fn', key: (d) => String(d.a) })).keyField, undefined);
  });

  it('addresses documents by partition key and id', () => {
    assert.deepEqual(documentRefOf(people, { team: 7, email: 'a@b.co' }), { key: '7', id: 'a@b.co' });
    rejects(() => partitionKeyOf(people, { email: 'a@b.co' }), 'BAD_REQUEST', /partition key field "team" is missing/);
    rejects(() => partitionKeyOf(people, { team: true }), 'BAD_REQUEST', /"team" must be a string or a finite number/);
    rejects(() => partitionKeyOf(people, { team: '' }), 'BAD_REQUEST', /must not be empty/);
    rejects(() => documentRefOf(people, { team: 'x', email: { a: 1 } }), 'BAD_REQUEST', /id field "email"/);
  });

  it('validates documents: JSON, size, schema', () => {
    assert.deepEqual(validateDocument(people, { team: 'x', email: 'a@b.co' }), { team: 'x', email: 'a@b.co' });
    rejects(() => validateDocument(people, [1]), 'BAD_REQUEST', /JSON object/);
    rejects(() => validateDocument(people, { team: 'x', email: 'a@b.co', when: new Date() }), 'BAD_REQUEST', /when/);
    rejects(() => validateDocument(people, { team: 'x', email: 'a@b.co', n: Number.NaN }), 'BAD_REQUEST', /finite/);
    rejects(() => validateDocument(people, { team: 'x', email: 'a@b.co', pad: 'z'.repeat(300) }), 'PAYLOAD_TOO_LARGE', /over the limit of 200/);
    assert.throws(() => validateDocument(people, { team: 'x', email: 'nope', age: 1.5 }), (err: { code: string; details: { fields: Array<{ field: string }> } }) => {
      assert.equal(err.code, 'VALIDATION');
      assert.deepEqual(err.details.fields.map((f) => f.field).sort(), ['age', 'email']);
      return true;
    });
  });
});

describe('query checking', () => {
  const bad: Array<[unknown, RegExp]> = [
    [{ where: { a: { like: 1 } } }, /where\.a: unknown operator "like"/],
    [{ limit: 10_001 }, /limit: must be at most 10000/],
    [{ aggregate: { s: { op: 'sum' } } }, /aggregate\.s: sum needs a field/],
    [{ groupBy: ['a'] }, /groupBy: needs aggregate/],
    [{ select: ['a'], aggregate: { n: { op: 'count' } } }, /select: cannot be combined/],
    [{ aggregate: { n: { op: 'count' } }, orderBy: [{ field: 'x' }] }, /neither a groupBy field nor an aggregate/],
    [{ where: { 'a b': 1 } }, /where\.a b: is not a field path/],
    [{ where: { a: { gt: null } } }, /where\.a\.gt/],
    [{ where: { and: { a: 1 } } }, /where\.and: must be an array/],
    [{ orderBy: [{ field: 'a', direction: 'up' }] }, /orderBy\.0\.direction/],
    [{ bogus: 1 }, /unknown property "bogus"/],
    [{ aggregate: { n: { op: 'median', field: 'a' } } }, /must be one of count, sum, min, max, avg/],
  ];
  for (const [query, message] of bad) {
    it(`rejects ${JSON.stringify(query)}`, () => rejects(() => checkQuery(query), 'BAD_REQUEST', message));
  }

  it('binds every user value as a parameter', () => {
    const compiled = compileQuery('"c_t"', checkQuery({ where: { a: "x' OR 1=1 --", b: { in: [1, true, null] }, c: { prefix: 'p' } }, limit: 3 }));
    assert.doesNotMatch(compiled.sql, /OR 1=1/);
    assert.deepEqual(compiled.params, ["x' OR 1=1 --", 1, 1, 'p', 'q', 3]);
  });
});

describe('ordering and matching semantics', () => {
  let dir: EngineDir;
  let engine: SqliteShardEngine;
  const things = defineCollection({ name: 'things', key: 'k', indexes: [{ name: 'by_v', fields: ['v'] }] });
  const run = (query: Query) => mergeShardResults(query, [engine.query('things', query)]);

  before(() => {
    dir = engineDir();
    engine = dir.open('sem');
    engine.ensureCollection(collectionSpec(things));
    const values: unknown[] = [null, undefined, 3, 2.5, true, 'b', 'a', '10', { z: 1 }, '\uFF21', '😀'];
    values.forEach((v, i) => {
      const doc = v === undefined ? { k: `k${i}` } : { k: `k${i}`, v };
      engine.put('things', { key: `k${i}`, id: `k${i}` }, slotOf(`k${i}`), doc);
    });
  });
  after(() => dir.cleanup());

  it('orders like SQLite: NULL and absent first, numbers (true = 1), text by code point, then ties by key', () => {
    const asc = run({ orderBy: [{ field: 'v' }], select: ['v'] }).map((r) => r._key);
    assert.deepEqual(asc, ['k0', 'k1', 'k4', 'k3', 'k2', 'k7', 'k6', 'k5', 'k8', 'k9', 'k10']);
    const desc = run({ orderBy: [{ field: 'v', direction: 'desc' }] }).map((r) => r._key);
    assert.deepEqual(desc, ['k10', 'k9', 'k8', 'k5', 'k6', 'k7', 'k2', 'k3', 'k4', 'k0', 'k1']);
    assert.equal(compareText('\uFF21', '😀'), -1);
    assert.equal(prefixSuccessor('a\uD7FF'), 'a\uE000');
  });

  it('keeps range operators within the operand type and treats absent as failing eq, passing ne', () => {
    assert.deepEqual(run({ where: { v: { gt: 2 } } }).map((r) => r._key), ['k2', 'k3']);
    assert.deepEqual(run({ where: { v: { gte: 'a' } } }).map((r) => r._key).sort(), ['k10', 'k5', 'k6', 'k8', 'k9']);
    assert.equal(run({ where: { v: { ne: 3 } } }).length, 10);
    assert.deepEqual(run({ where: { not: { v: { gt: 2 } } } }).length, 9);
    assert.deepEqual(run({ where: { v: { exists: false } } }).map((r) => r._key), ['k0', 'k1']);
    assert.deepEqual(run({ where: { v: { prefix: '1' } } }).map((r) => r._key), ['k7']);
    assert.deepEqual(run({ where: { v: { in: [null, 'a'] } } }).map((r) => r._key), ['k0', 'k1', 'k6']);
  });

  it('returns rows with _key, _id and _version, selected fields flat', () => {
    assert.deepEqual(run({ where: { k: 'k8' } }), [{ k: 'k8', v: { z: 1 }, _key: 'k8', _id: 'k8', _version: 1 }]);
    assert.deepEqual(run({ where: { k: 'k8' }, select: ['v.z', 'nope'] }), [{ 'v.z': 1, nope: null, _key: 'k8', _id: 'k8', _version: 1 }]);
  });

  it('aggregates: avg over numbers only, one row without groupBy even when nothing matches', () => {
    assert.deepEqual(run({ aggregate: { n: { op: 'count' }, c: { op: 'count', field: 'v' }, s: { op: 'sum', field: 'v' }, a: { op: 'avg', field: 'v' }, lo: { op: 'min', field: 'v' }, hi: { op: 'max', field: 'v' } } }), [
      { n: 11, c: 9, s: 5.5, a: 2.75, lo: 1, hi: '😀' },
    ]);
    assert.deepEqual(run({ where: { v: 'none' }, aggregate: { n: { op: 'count' }, s: { op: 'sum', field: 'v' } } }), [{ n: 0, s: null }]);
  });
});
