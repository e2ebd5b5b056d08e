import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { collectionSpec, defineCollection, documentRefOf } from '../../src/data/collection.ts';
import { checkQuery, compileQuery, mergeShardResults } from '../../src/data/query/index.ts';
import { slotOf } from '../../src/data/slots.ts';
import type { SqliteShardEngine } from '../../src/data/sqlite/index.ts';
import type { JsonDocument, Query } from '../../src/data/types.ts';
import { engineDir, type EngineDir } from '../support/data-engines.ts';

const links = defineCollection({ name: 'links', key: 'code', indexes: [{ name: 'by_owner', fields: ['owner', 'createdAt'] }] });
const events = defineCollection({ name: 'events', key: 'user', id: 'eventId', indexes: [{ name: 'by_kind', fields: ['kind'] }] });

function putDoc(engine: SqliteShardEngine, def: typeof links, doc: JsonDocument, options?: { expectVersion?: number }) {
  const ref = documentRefOf(def, doc);
  return engine.put(def.name, ref, slotOf(ref.key), doc, options);
}

function rejects(work: () => unknown, code: string, pattern?: RegExp): void {
  assert.throws(work, (err: { code?: string; message?: string }) => {
    assert.equal(err.code, code, err.message);
    if (pattern) assert.match(err.message ?? '', pattern);
    return true;
  });
}

describe('SqliteShardEngine', () => {
  let dir: EngineDir;
  let engine: SqliteShardEngine;

  before(() => {
    dir = engineDir();
    engine = dir.open('main');
    engine.ensureCollection(collectionSpec(links));
    engine.ensureCollection(collectionSpec(events));
  });
  after(() => dir.cleanup());

  it('puts, gets, updates and deletes with versions', () => {
    const first = putDoc(engine, links, { code: 'abc', url: 'https://a.example', owner: 'ann', createdAt: 1 });
    assert.deepEqual({ key: first.key, id: first.id, version: first.version }, { key: 'abc', id: 'abc', version: 1 });
    const second = putDoc(engine, links, { code: 'abc', url: 'https://b.example', owner: 'ann', createdAt: 1 });
    assert.equal(second.version, 2);
    assert.equal(engine.get('links', { key: 'abc', id: 'abc' })?.doc.url, 'https://b.example');
    const updated = engine.update('links', { key: 'abc', id: 'abc' }, { clicks: 3 });
    assert.equal(updated.version, 3);
    assert.deepEqual(updated.doc, { code: 'abc', url: 'https://b.example', owner: 'ann', createdAt: 1, clicks: 3 });
    assert.deepEqual(engine.getMany('links', [{ key: 'abc', id: 'abc' }, { key: 'nope', id: 'nope' }]).map((d) => d?.version), [3, undefined]);
    assert.equal(engine.delete('links', { key: 'abc', id: 'abc' }), true);
    assert.equal(engine.delete('links', { key: 'abc', id: 'abc' }), false);
    assert.equal(engine.get('links', { key: 'abc', id: 'abc' }), undefined);
    rejects(() => engine.update('links', { key: 'abc', id: 'abc' }, { a: 1 }), 'NOT_FOUND');
  });

  it('compare-and-set: insert-if-absent, versioned put, update and delete conflict', () => {
    const doc = { code: 'cas', url: 'u', owner: 'bo', createdAt: 2 };
    assert.equal(putDoc(engine, links, doc, { expectVersion: 0 }).version, 1);
    rejects(() => putDoc(engine, links, doc, { expectVersion: 0 }), 'CONFLICT', /already exists/);
    rejects(() => putDoc(engine, links, doc, { expectVersion: 5 }), 'CONFLICT', /expected 5, stored 1/);
    assert.equal(putDoc(engine, links, { ...doc, url: 'v' }, { expectVersion: 1 }).version, 2);
    rejects(() => engine.update('links', { key: 'cas', id: 'cas' }, { url: 'w' }, { expectVersion: 1 }), 'CONFLICT');
    assert.equal(engine.update('links', { key: 'cas', id: 'cas' }, { url: 'w' }, { expectVersion: 2 }).version, 3);
    rejects(() => engine.delete('links', { key: 'cas', id: 'cas' }, { expectVersion: 2 }), 'CONFLICT');
    assert.equal(engine.get('links', { key: 'cas', id: 'cas' })?.doc.url, 'w');
    assert.equal(engine.delete('links', { key: 'cas', id: 'cas' }, { expectVersion: 3 }), true);
    rejects(() => putDoc(engine, links, doc, { expectVersion: 1 }), 'CONFLICT', /stored none/);
  });

  it('increments numeric fields, creating the document and nested fields', () => {
    const ref = { key: 'cnt', id: 'cnt' };
    const created = engine.increment('links', ref, slotOf('cnt'), { clicks: 1, 'stats.day': 2 });
    assert.deepEqual(created.doc, { code: 'cnt', clicks: 1, stats: { day: 2 } });
    assert.equal(created.version, 1);
    const again = engine.increment('links', ref, slotOf('cnt'), { clicks: 4.5, 'stats.day': -1 });
    assert.deepEqual(again.doc, { code: 'cnt', clicks: 5.5, stats: { day: 1 } });
    assert.equal(again.version, 2);
    engine.update('links', ref, { label: 'x' });
    rejects(() => engine.increment('links', ref, slotOf('cnt'), { clicks: 1, label: 1 }), 'BAD_REQUEST', /label/);
    rejects(() => engine.increment('links', ref, slotOf('cnt'), { clicks: Number.NaN }), 'BAD_REQUEST');
    rejects(() => engine.increment('links', ref, slotOf('cnt'), { code: 1 }), 'BAD_REQUEST', /key or id/);
    assert.equal(engine.get('links', ref)?.doc.clicks, 5.5, 'a failed increment writes nothing');
  });

  it('scans one partition by id prefix and by index, with a cursor', () => {
    for (let i = 0; i < 12; i++) {
      const doc = { user: 'u1', eventId: `e${String(i).padStart(2, '0')}`, kind: i % 3 === 0 ? null : `k${i % 4}` };
      engine.put('events', documentRefOf(events, doc), slotOf('u1'), doc);
    }
    engine.put('events', { key: 'u2', id: 'e00' }, slotOf('u2'), { user: 'u2', eventId: 'e00', kind: 'k1' });
    const all = engine.scan('events', 'u1', {});
    assert.equal(all.length, 12);
    assert.deepEqual(engine.scan('events', 'u1', { idPrefix: 'e1' }).map((d) => d.id), ['e10', 'e11']);
    const page1 = engine.scan('events', 'u1', { limit: 5 });
    const page2 = engine.scan('events', 'u1', { limit: 5, after: page1[4].id });
    assert.deepEqual([...page1, ...page2].map((d) => d.id), all.slice(0, 10).map((d) => d.id));
    const byKind = engine.scan('events', 'u1', { index: 'by_kind' });
    const expected = [...all].sort((a, b) => {
      const ka = (a.doc.kind as string | null) ?? '';
      const kb = (b.doc.kind as string | null) ?? '';
      return ka === kb ? (a.id < b.id ? -1 : 1) : ka < kb ? -1 : 1;
    });
    assert.deepEqual(byKind.map((d) => d.id), expected.map((d) => d.id));
    const paged: string[] = [];
    let cursor: string | undefined;
    for (;;) {
      const page = engine.scan('events', 'u1', { index: 'by_kind', limit: 4, ...(cursor ? { after: cursor } : {}) });
      paged.push(...page.map((d) => d.id));
      if (page.length < 4) break;
      cursor = page[page.length - 1].id;
    }
    assert.deepEqual(paged, expected.map((d) => d.id));
    rejects(() => engine.scan('events', 'u1', { index: 'nope' }), 'BAD_REQUEST', /no index/);
  });

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
    const rows = mergeShardResults({ where: { kind: { prefix: 'k1' } } }, [engine.query('events', { where: { kind: { prefix: 'k1' } } })]);
    assert.ok(rows.length > 0 && rows.every((r) => r.kind === 'k1'));
  });

  it('keeps data across close and reopen', () => {
    const durable = dir.open('durable');
    durable.ensureCollection(collectionSpec(links));
    putDoc(durable, links, { code: 'keep', url: 'u', owner: 'o', createdAt: 1 });
    durable.increment('links', { key: 'keep', id: 'keep' }, slotOf('keep'), { clicks: 2 });
    const seq = durable.lastSeq();
    durable.close();
    const reopened = dir.open('durable');
    assert.deepEqual(reopened.get('links', { key: 'keep', id: 'keep' })?.doc, { code: 'keep', url: 'u', owner: 'o', createdAt: 1, clicks: 2 });
    assert.equal(reopened.lastSeq(), seq);
    assert.equal(putDoc(reopened, links, { code: 'keep', url: 'v', owner: 'o', createdAt: 1 }).version, 3);
  });

  it('moves a slot: export, import, catch up from the change log, drop', () => {
    const source = dir.open('source');
    const target = dir.open('target');
    for (const e of [source, target]) {
      e.ensureCollection(collectionSpec(links));
      e.ensureCollection(collectionSpec(events));
    }
    const slot = slotOf('hot');
    const otherSlot = slotOf('cold');
    for (let i = 0; i < 25; i++) source.put('events', { key: 'hot', id: `e${i}` }, slot, { user: 'hot', eventId: `e${i}`, kind: 'k' });
    putDoc(source, links, { code: 'hot', url: 'u', owner: 'o', createdAt: 1 });
    putDoc(source, links, { code: 'cold', url: 'u', owner: 'o', createdAt: 1 });
    const startSeq = source.lastSeq();
    let cursor = 0;
    let pages = 0;
    for (;;) {
      const page = source.exportSlot(slot, { afterRowId: cursor, limit: 10 });
      target.importDocuments(slot, page.documents);
      cursor = page.lastRowId;
      pages++;
      // Writes made during the copy are caught up below.
      if (pages === 1) {
        source.update('events', { key: 'hot', id: 'e0' }, { kind: 'changed' });
        source.delete('events', { key: 'hot', id: 'e1' });
        source.put('events', { key: 'hot', id: 'new' }, slot, { user: 'hot', eventId: 'new' });
      }
      if (page.done) break;
    }
    assert.ok(pages >= 3);
    const changes = source.changesSince(startSeq, [slot], 1000);
    assert.deepEqual(changes.map((c) => [c.id, c.after === null]), [['e0', false], ['e1', true], ['new', false]]);
    assert.equal(source.changesSince(startSeq, [otherSlot], 1000).length, 0);
    target.applyChanges(changes);
    assert.equal(target.get('events', { key: 'hot', id: 'e0' })?.doc.kind, 'changed');
    assert.equal(target.get('events', { key: 'hot', id: 'e1' }), undefined);
    assert.equal(target.get('events', { key: 'hot', id: 'new' })?.version, 1);
    assert.equal(target.get('links', { key: 'cold', id: 'cold' }), undefined);
    assert.equal(target.slotSizes().get(slot), 26);
    assert.deepEqual(target.slotSizes(), new Map([[slot, 26]]));
    assert.equal(source.slotSizes().get(slot), 26);
    assert.equal(target.get('events', { key: 'hot', id: 'e5' })?.version, source.get('events', { key: 'hot', id: 'e5' })?.version);
    const dropSeq = source.lastSeq();
    assert.equal(source.dropSlot(slot), 26);
    assert.equal(source.slotSizes().get(slot), undefined);
    assert.equal(source.get('links', { key: 'cold', id: 'cold' })?.version, 1);
    assert.equal(source.changesSince(dropSeq, [slot], 1000).length, 26, 'the drop is in the log');
    assert.equal(source.truncateChanges(dropSeq + 1) > 0, true);
    assert.throws(() => source.changesSince(startSeq, [], 10), /restart the copy/);
  });

  it('counts reads and writes per slot', () => {
    const counted = dir.open('counted');
    counted.ensureCollection(collectionSpec(links));
    putDoc(counted, links, { code: 'a', url: 'u', owner: 'o', createdAt: 1 });
    putDoc(counted, links, { code: 'a', url: 'v', owner: 'o', createdAt: 1 });
    counted.get('links', { key: 'a', id: 'a' });
    counted.get('links', { key: 'missing', id: 'missing' });
    const bySlot = new Map(counted.slotCounters().map((c) => [c.slot, c]));
    assert.deepEqual(bySlot.get(slotOf('a')), { slot: slotOf('a'), reads: 1, writes: 2 });
    assert.equal(bySlot.get(slotOf('missing'))?.reads, 1);
  });

  it('rejects bad input with clear errors and leaves data intact', () => {
    const safe = dir.open('safe');
    safe.ensureCollection(collectionSpec(links));
    putDoc(safe, links, { code: 'x', url: 'u', owner: 'o', createdAt: 1 });
    const before = safe.lastSeq();
    rejects(() => safe.get('nope', { key: 'x', id: 'x' }), 'NOT_FOUND', /unknown collection/);
    rejects(() => safe.put('links', { key: 'x', id: 'x' }, 99999, { code: 'x' }), 'BAD_REQUEST', /slot/);
    rejects(() => safe.put('links', { key: 'x', id: 'x' }, slotOf('x'), { code: 'y' }), 'BAD_REQUEST', /partition key/);
    rejects(() => safe.put('links', { key: '', id: 'x' }, slotOf('x'), { code: 'x' }), 'BAD_REQUEST');
    rejects(() => safe.put('links', { key: 'x', id: 'x' }, slotOf('x'), [] as unknown as JsonDocument), 'BAD_REQUEST');
    rejects(() => safe.put('links', { key: 'x', id: 'x' }, slotOf('x'), { code: 'x', big: 'z'.repeat(300 * 1024) }), 'PAYLOAD_TOO_LARGE');
    rejects(() => safe.update('links', { key: 'x', id: 'x' }, { code: 'other' }), 'BAD_REQUEST', /partition key/);
    rejects(() => safe.query('links', { where: { url: { like: 'x' } } } as never), 'BAD_REQUEST', /unknown operator "like"/);
    rejects(() => safe.query('links', { limit: 20_000 }), 'BAD_REQUEST', /at most 10000/);
    rejects(() => safe.query('links', { where: { "url'; DROP TABLE x; --": 1 } }), 'BAD_REQUEST', /field path/);
    rejects(() => safe.ensureCollection({ name: 'bad"name', indexes: [], maxDocumentBytes: 100 }), 'BAD_REQUEST', /collection name/);
    rejects(() => safe.ensureCollection({ name: 'sqlite__x', indexes: [], maxDocumentBytes: 100 }), 'BAD_REQUEST');
    // A batch with one bad document writes none of it.
    const slot = slotOf('x');
    rejects(() => safe.importDocuments(slot, [
      { collection: 'links', key: 'i1', id: 'i1', version: 1, doc: { code: 'i1' } },
      { collection: 'nope', key: 'i2', id: 'i2', version: 1, doc: { code: 'i2' } },
    ]), 'NOT_FOUND');
    rejects(() => safe.applyChanges([
      { seq: 1, collection: 'links', slot, key: 'x', id: 'x', after: null },
      { seq: 2, collection: 'links', slot, key: 'y', id: 'y', after: { key: 'y', id: 'y', version: 0, doc: {} } },
    ]), 'BAD_REQUEST');
    assert.equal(safe.get('links', { key: 'i1', id: 'i1' }), undefined);
    assert.deepEqual(safe.get('links', { key: 'x', id: 'x' })?.doc, { code: 'x', url: 'u', owner: 'o', createdAt: 1 });
    assert.equal(safe.lastSeq(), before);
  });

  it('adds and replaces indexes when a collection is ensured again', () => {
    const evolving = dir.open('evolving');
    evolving.ensureCollection(collectionSpec(links));
    putDoc(evolving, links, { code: 'a', url: 'u', owner: 'o', createdAt: 1 });
    const next = collectionSpec(defineCollection({ name: 'links', key: 'code', indexes: [{ name: 'by_url', fields: ['url'] }] }));
    evolving.ensureCollection(next);
    evolving.close();
    const reopened = dir.open('evolving');
    assert.equal(reopened.scan('links', 'a', { index: 'by_url' }).length, 1);
    rejects(() => reopened.scan('links', 'a', { index: 'by_owner' }), 'BAD_REQUEST');
  });
});
