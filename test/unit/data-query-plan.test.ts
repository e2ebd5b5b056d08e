import assert from 'node:assert/strict';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, it } from 'node:test';
import { collectionSpec, defineCollection } from '../../src/data/collection.ts';
import { checkQuery, compileQuery } from '../../src/data/query/index.ts';
import { slotOf } from '../../src/data/slots.ts';
import { QueryPlanner } from '../../src/data/sqlite/query-plan.ts';
import type { ShardWrite } from '../../src/data/types.ts';
import { engineDir, type EngineDir } from '../support/data-engines.ts';

const facts = defineCollection({ name: 'facts', key: 'id', indexes: [{ name: 'by_n', fields: ['n'] }] });
const ROWS = 3000;

describe('shard query planning', () => {
  let dir: EngineDir;

  before(async () => {
    dir = engineDir();
    const engine = dir.open('plan');
    await engine.ensureCollection(collectionSpec(facts));
    const writes: ShardWrite[] = [];
    for (let i = 0; i < ROWS; i++) {
      const id = `f${i}`;
      writes.push({ op: 'put', collection: 'facts', ref: { key: id, id }, slot: slotOf(id), doc: { id, n: i } });
    }
    assert.ok((await engine.writeBatch(writes)).every((r) => r.ok));
  });
  after(() => dir.cleanup());

  it('scans for a range filter matching most rows and keeps the index for a selective one', () => {
    const db = new DatabaseSync(dir.path('plan'), { readOnly: true });
    try {
      const planner = new QueryPlanner((sql) => db.prepare(sql));
      // Counting a field the index lacks, so the index alone cannot answer (a covering index is always best).
      const broad = compileQuery('"c_facts"', checkQuery({ where: { n: { gte: 10 } }, aggregate: { c: { op: 'count', field: 'id' } } }));
      const narrow = compileQuery('"c_facts"', checkQuery({ where: { n: { gte: ROWS - 10 } }, aggregate: { c: { op: 'count', field: 'id' } } }));
      assert.equal(planner.choose('"c_facts"', broad), broad.scanSql);
      assert.equal(planner.choose('"c_facts"', narrow), narrow.sql);
      // Both forms answer the same.
      const count = (sql: string, params: unknown[]) => Number((db.prepare(sql).get(...(params as never[])) as { c0: number }).c0);
      assert.equal(count(broad.scanSql, broad.params), ROWS - 10);
      assert.equal(count(broad.sql, broad.params), ROWS - 10);
    } finally {
      db.close();
    }
  });
});
