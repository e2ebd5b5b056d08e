/** What the SQLite driver does beyond the ShardEngine contract (the contract itself: test/conformance/shard-engine-*). */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { collectionSpec, defineCollection, documentRefOf } from '../../src/data/collection.ts';
import { checkQuery, compileQuery, mergeShardResults } from '../../src/data/query/index.ts';
import { slotOf } from '../../src/data/slots.ts';
import type { SqliteShardEngine } from '../../src/data/sqlite/index.ts';
import type { Query } from '../../src/data/types.ts';
import { engineDir, type EngineDir } from '../support/data-engines.ts';

const links = defineCollection({ name: 'links', key: 'code', indexes: [{ name: 'by_owner', fields: ['owner', 'createdAt'] }] });
const events = defineCollection({ name: 'events', key: 'user', id: 'eventId', indexes: [{ name: 'by_kind', fields: ['kind'] }] });

describe('SqliteShardEngine', () => {
  let dir: EngineDir;
  let engine: SqliteShardEngine;

  before(async () => {
    dir = engineDir();
    engine = dir.open('main');
    await engine.ensureCollection(collectionSpec(links));
    await engine.ensureCollection(collectionSpec(events));
    for (let i = 0; i < 12; i++) {
      const doc = { user: 'u1', eventId: `e${String(i).padStart(2, '0')}`, kind: i % 3 === 0 ? null : `k${i % 4}` };
      await engine.put('events', documentRefOf(events, doc), slotOf('u1'), doc);
    }
  });
  after(() => dir.cleanup());

  it('queries use the declared expression index (EXPLAIN QUERY PLAN)', async () => {
    const { DatabaseSync } = await import('node:sqlite');
    const db = new DatabaseSync(dir.path('main'), { readOnly: true });
    try {
      // The SQL the engine compiles for these queries, planned by SQLite.
      const explain = (table: string, query: Query) => {
        const compiled = compileQuery(table, checkQuery(query), [1, 2, 3]);
        return db.prepare(`EXPLAIN QUERY PLAN ${compiled.sql}`).all(...compiled.params) as Array<{ detail: string }>;
      };
      const plan = explain('"c_links"', { where: { owner: 'ann' }, orderBy: [{ field: 'owner' }, { field: 'createdAt' }] });
      assert.ok(plan.some((row) => /USING INDEX c_links__ix_by_owner/.test(row.detail)), JSON.stringify(plan));
      const kindPlan = explain('"c_events"', { where: { kind: { prefix: 'k' } } });
      assert.ok(kindPlan.some((row) => /USING INDEX c_events__ix_by_kind/.test(row.detail)), JSON.stringify(kindPlan));
    } finally {
      db.close();
    }
    // And the engine's own compiled SQL reaches the same index: checked through the query result too.
    const rows = mergeShardResults({ where: { kind: { prefix: 'k1' } } }, [await engine.query('events', { where: { kind: { prefix: 'k1' } } })]);
    assert.ok(rows.length > 0 && rows.every((r) => r.kind === 'k1'));
  });

  it('truncates the change log, and a reader from before the cut must restart its copy', async () => {
    const log = dir.open('log');
    await log.ensureCollection(collectionSpec(links));
    const startSeq = await log.lastSeq();
    for (let i = 0; i < 5; i++) await log.put('links', { key: `l${i}`, id: `l${i}` }, slotOf(`l${i}`), { code: `l${i}` });
    const cutSeq = await log.lastSeq();
    assert.equal(await log.truncateChanges(cutSeq + 1) > 0, true);
    await assert.rejects(() => log.changesSince(startSeq, [], 10), (err: { code?: string; message?: string }) => {
      assert.equal(err.code, 'CONFLICT');
      assert.match(err.message ?? '', /restart the copy/);
      return true;
    });
    assert.deepEqual(await log.changesSince(cutSeq, [], 10), []);
  });
});
