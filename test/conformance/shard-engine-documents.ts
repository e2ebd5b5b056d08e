/** ShardEngine conformance: single documents (CRUD, compare-and-set, increment, scan), bad input, durability. */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { collectionSpec, defineCollection, documentRefOf } from '../../src/data/collection.ts';
import { slotOf } from '../../src/data/slots.ts';
import type { JsonDocument, ShardEngine } from '../../src/data/types.ts';
import { putDoc, rejects, type EngineOpener } from './shard-engine-support.ts';

const links = defineCollection({ name: 'links', key: 'code', indexes: [{ name: 'by_owner', fields: ['owner', 'createdAt'] }] });
const events = defineCollection({ name: 'events', key: 'user', id: 'eventId', indexes: [{ name: 'by_kind', fields: ['kind'] }] });

export function documentCases(engines: EngineOpener): void {
  describe('documents', () => {
    let engine: ShardEngine;

    before(async () => {
      ({ engine } = await engines.fresh('documents'));
      await engine.ensureCollection(collectionSpec(links));
      await engine.ensureCollection(collectionSpec(events));
    });

    it('puts, gets, updates and deletes with versions', async () => {
      const first = await putDoc(engine, links, { code: 'abc', url: 'https://a.example', owner: 'ann', createdAt: 1 });
      assert.deepEqual({ key: first.key, id: first.id, version: first.version }, { key: 'abc', id: 'abc', version: 1 });
      const second = await putDoc(engine, links, { code: 'abc', url: 'https://b.example', owner: 'ann', createdAt: 1 });
      assert.equal(second.version, 2);
      assert.equal((await engine.get('links', { key: 'abc', id: 'abc' }))?.doc.url, 'https://b.example');
      const updated = await engine.update('links', { key: 'abc', id: 'abc' }, { clicks: 3 });
      assert.equal(updated.version, 3);
      assert.deepEqual(updated.doc, { code: 'abc', url: 'https://b.example', owner: 'ann', createdAt: 1, clicks: 3 });
      assert.deepEqual((await engine.getMany('links', [{ key: 'abc', id: 'abc' }, { key: 'nope', id: 'nope' }])).map((d) => d?.version), [3, undefined]);
      assert.equal(await engine.delete('links', { key: 'abc', id: 'abc' }), true);
      assert.equal(await engine.delete('links', { key: 'abc', id: 'abc' }), false);
      assert.equal(await engine.get('links', { key: 'abc', id: 'abc' }), undefined);
      await rejects(() => engine.update('links', { key: 'abc', id: 'abc' }, { a: 1 }), 'NOT_FOUND');
    });

    it('compare-and-set: insert-if-absent, versioned put, update and delete conflict', async () => {
      const doc = { code: 'cas', url: 'u', owner: 'bo', createdAt: 2 };
      assert.equal((await putDoc(engine, links, doc, { expectVersion: 0 })).version, 1);
      await rejects(() => putDoc(engine, links, doc, { expectVersion: 0 }), 'CONFLICT', /already exists/);
      await rejects(() => putDoc(engine, links, doc, { expectVersion: 5 }), 'CONFLICT', /expected 5, stored 1/);
      assert.equal((await putDoc(engine, links, { ...doc, url: 'v' }, { expectVersion: 1 })).version, 2);
      await rejects(() => engine.update('links', { key: 'cas', id: 'cas' }, { url: 'w' }, { expectVersion: 1 }), 'CONFLICT');
      assert.equal((await engine.update('links', { key: 'cas', id: 'cas' }, { url: 'w' }, { expectVersion: 2 })).version, 3);
      await rejects(() => engine.delete('links', { key: 'cas', id: 'cas' }, { expectVersion: 2 }), 'CONFLICT');
      assert.equal((await engine.get('links', { key: 'cas', id: 'cas' }))?.doc.url, 'w');
      assert.equal(await engine.delete('links', { key: 'cas', id: 'cas' }, { expectVersion: 3 }), true);
      await rejects(() => putDoc(engine, links, doc, { expectVersion: 1 }), 'CONFLICT', /stored none/);
    });

    it('increments numeric fields, creating the document and nested fields', async () => {
      const ref = { key: 'cnt', id: 'cnt' };
      const created = await engine.increment('links', ref, slotOf('cnt'), { clicks: 1, 'stats.day': 2 });
      assert.deepEqual(created.doc, { code: 'cnt', clicks: 1, stats: { day: 2 } });
      assert.equal(created.version, 1);
      const again = await engine.increment('links', ref, slotOf('cnt'), { clicks: 4.5, 'stats.day': -1 });
      assert.deepEqual(again.doc, { code: 'cnt', clicks: 5.5, stats: { day: 1 } });
      assert.equal(again.version, 2);
      await engine.update('links', ref, { label: 'x' });
      await rejects(() => engine.increment('links', ref, slotOf('cnt'), { clicks: 1, label: 1 }), 'BAD_REQUEST', /label/);
      await rejects(() => engine.increment('links', ref, slotOf('cnt'), { clicks: Number.NaN }), 'BAD_REQUEST');
      await rejects(() => engine.increment('links', ref, slotOf('cnt'), { code: 1 }), 'BAD_REQUEST', /key or id/);
      assert.equal((await engine.get('links', ref))?.doc.clicks, 5.5, 'a failed increment writes nothing');
    });

    it('scans one partition by id prefix and by index, with a cursor', async () => {
      for (let i = 0; i < 12; i++) {
        const doc = { user: 'u1', eventId: `e${String(i).padStart(2, '0')}`, kind: i % 3 === 0 ? null : `k${i % 4}` };
        await engine.put('events', documentRefOf(events, doc), slotOf('u1'), doc);
      }
      await engine.put('events', { key: 'u2', id: 'e00' }, slotOf('u2'), { user: 'u2', eventId: 'e00', kind: 'k1' });
      const all = await engine.scan('events', 'u1', {});
      assert.equal(all.length, 12);
      assert.deepEqual((await engine.scan('events', 'u1', { idPrefix: 'e1' })).map((d) => d.id), ['e10', 'e11']);
      const page1 = await engine.scan('events', 'u1', { limit: 5 });
      const page2 = await engine.scan('events', 'u1', { limit: 5, after: page1[4].id });
      assert.deepEqual([...page1, ...page2].map((d) => d.id), all.slice(0, 10).map((d) => d.id));
      const byKind = await engine.scan('events', 'u1', { index: 'by_kind' });
      const expected = [...all].sort((a, b) => {
        const ka = (a.doc.kind as string | null) ?? '';
        const kb = (b.doc.kind as string | null) ?? '';
        return ka === kb ? (a.id < b.id ? -1 : 1) : ka < kb ? -1 : 1;
      });
      assert.deepEqual(byKind.map((d) => d.id), expected.map((d) => d.id));
      const paged: string[] = [];
      let cursor: string | undefined;
      for (;;) {
        const page = await engine.scan('events', 'u1', { index: 'by_kind', limit: 4, ...(cursor ? { after: cursor } : {}) });
        paged.push(...page.map((d) => d.id));
        if (page.length < 4) break;
        cursor = page[page.length - 1].id;
      }
      assert.deepEqual(paged, expected.map((d) => d.id));
      await rejects(() => engine.scan('events', 'u1', { index: 'nope' }), 'BAD_REQUEST', /no index/);
    });
  });

  it('rejects bad input with clear errors and leaves data intact', async () => {
    const { engine: safe } = await engines.fresh('safe');
    await safe.ensureCollection(collectionSpec(links));
    await putDoc(safe, links, { code: 'x', url: 'u', owner: 'o', createdAt: 1 });
    const before = await safe.lastSeq();
    await rejects(() => safe.get('nope', { key: 'x', id: 'x' }), 'NOT_FOUND', /unknown collection/);
    await rejects(() => safe.put('links', { key: 'x', id: 'x' }, 99999, { code: 'x' }), 'BAD_REQUEST', /slot/);
    await rejects(() => safe.put('links', { key: 'x', id: 'x' }, slotOf('x'), { code: 'y' }), 'BAD_REQUEST', /partition key/);
    await rejects(() => safe.put('links', { key: '', id: 'x' }, slotOf('x'), { code: 'x' }), 'BAD_REQUEST');
    await rejects(() => safe.put('links', { key: 'x', id: 'x' }, slotOf('x'), [] as unknown as JsonDocument), 'BAD_REQUEST');
    await rejects(() => safe.put('links', { key: 'x', id: 'x' }, slotOf('x'), { code: 'x', big: 'z'.repeat(300 * 1024) }), 'PAYLOAD_TOO_LARGE');
    await rejects(() => safe.update('links', { key: 'x', id: 'x' }, { code: 'other' }), 'BAD_REQUEST', /partition key/);
    await rejects(() => safe.query('links', { where: { url: { like: 'x' } } } as never), 'BAD_REQUEST', /unknown operator "like"/);
    await rejects(() => safe.query('links', { limit: 20_000 }), 'BAD_REQUEST', /at most 10000/);
    await rejects(() => safe.query('links', { where: { "url'; DROP TABLE x; --": 1 } }), 'BAD_REQUEST', /field path/);
    await rejects(() => safe.ensureCollection({ name: 'bad"name', indexes: [], maxDocumentBytes: 100 }), 'BAD_REQUEST', /collection name/);
    await rejects(() => safe.ensureCollection({ name: 'sqlite__x', indexes: [], maxDocumentBytes: 100 }), 'BAD_REQUEST');
    // A batch with one bad document writes none of it.
    const slot = slotOf('x');
    await rejects(() => safe.importDocuments(slot, [
      { collection: 'links', key: 'i1', id: 'i1', version: 1, doc: { code: 'i1' } },
      { collection: 'nope', key: 'i2', id: 'i2', version: 1, doc: { code: 'i2' } },
    ]), 'NOT_FOUND');
    await rejects(() => safe.applyChanges([
      { seq: 1, collection: 'links', slot, key: 'x', id: 'x', after: null },
      { seq: 2, collection: 'links', slot, key: 'y', id: 'y', after: { key: 'y', id: 'y', version: 0, doc: {} } },
    ]), 'BAD_REQUEST');
    assert.equal(await safe.get('links', { key: 'i1', id: 'i1' }), undefined);
    assert.deepEqual((await safe.get('links', { key: 'x', id: 'x' }))?.doc, { code: 'x', url: 'u', owner: 'o', createdAt: 1 });
    assert.equal(await safe.lastSeq(), before);
  });

  it('enforces the size limit on the stored document: an update or increment that grows it past the limit writes nothing', async () => {
    const small = defineCollection({ name: 'small', key: 'k', maxDocumentBytes: 64 });
    const { engine } = await engines.fresh('size');
    await engine.ensureCollection(collectionSpec(small));
    const ref = { key: 'a', id: 'a' };
    await engine.put('small', ref, slotOf('a'), { k: 'a', pad: 'x'.repeat(20) });
    const before = await engine.lastSeq();
    // Each change is small alone; only the merged document is over the limit.
    await rejects(() => engine.update('small', ref, { more: 'y'.repeat(30) }), 'PAYLOAD_TOO_LARGE');
    await rejects(() => engine.increment('small', ref, slotOf('a'), { counterWithALongName: 1, anotherCounterWithALongName: 2 }), 'PAYLOAD_TOO_LARGE');
    assert.deepEqual(await engine.get('small', ref), { key: 'a', id: 'a', version: 1, doc: { k: 'a', pad: 'x'.repeat(20) } });
    assert.equal(await engine.lastSeq(), before);
  });

  it('keeps data across close and reopen', async () => {
    const { engine: durable, name } = await engines.fresh('durable');
    await durable.ensureCollection(collectionSpec(links));
    await putDoc(durable, links, { code: 'keep', url: 'u', owner: 'o', createdAt: 1 });
    await durable.increment('links', { key: 'keep', id: 'keep' }, slotOf('keep'), { clicks: 2 });
    const seq = await durable.lastSeq();
    await durable.close();
    const reopened = await engines.reopen(name);
    assert.deepEqual((await reopened.get('links', { key: 'keep', id: 'keep' }))?.doc, { code: 'keep', url: 'u', owner: 'o', createdAt: 1, clicks: 2 });
    assert.equal(await reopened.lastSeq(), seq);
    assert.equal((await putDoc(reopened, links, { code: 'keep', url: 'v', owner: 'o', createdAt: 1 })).version, 3);
  });

  it('adds and replaces indexes when a collection is ensured again', async () => {
    const { engine: evolving, name } = await engines.fresh('evolving');
    await evolving.ensureCollection(collectionSpec(links));
    await putDoc(evolving, links, { code: 'a', url: 'u', owner: 'o', createdAt: 1 });
    const next = collectionSpec(defineCollection({ name: 'links', key: 'code', indexes: [{ name: 'by_url', fields: ['url'] }] }));
    await evolving.ensureCollection(next);
    await evolving.close();
    const reopened = await engines.reopen(name);
    assert.equal((await reopened.scan('links', 'a', { index: 'by_url' })).length, 1);
    await rejects(() => reopened.scan('links', 'a', { index: 'by_owner' }), 'BAD_REQUEST');
  });

  it('rejects every call with UNAVAILABLE once closed, and closes twice without harm', async () => {
    const { engine } = await engines.fresh('closed');
    await engine.ensureCollection(collectionSpec(links));
    await engine.close();
    await engine.close();
    await rejects(() => engine.get('links', { key: 'a', id: 'a' }), 'UNAVAILABLE');
    await rejects(() => putDoc(engine, links, { code: 'a', url: 'u', owner: 'o', createdAt: 1 }), 'UNAVAILABLE');
    await rejects(() => engine.writeBatch([]), 'UNAVAILABLE');
    await rejects(() => engine.lastSeq(), 'UNAVAILABLE');
    await rejects(() => engine.slotSizes(), 'UNAVAILABLE');
    await rejects(() => engine.slotCounters(), 'UNAVAILABLE');
  });
}
