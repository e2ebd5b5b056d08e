import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { collectionSpec, defineCollection, documentRefOf, partitionKeyOf, validateDocument } from '../../src/data/collection.ts';
import { checkQuery, compileQuery } from '../../src/data/query/index.ts';

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
