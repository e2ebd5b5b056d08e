/** ShardEngine conformance: group commit (writeBatch), the change log, slot moves and per-slot statistics. */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { ShoalError } from '../../src/core/errors.ts';
import { collectionSpec, defineCollection } from '../../src/data/collection.ts';
import { slotOf } from '../../src/data/slots.ts';
import type { ShardEngine, ShardWrite, ShardWriteResult } from '../../src/data/types.ts';
import { putDoc, type EngineOpener } from './shard-engine-support.ts';

const links = defineCollection({ name: 'links', key: 'code', indexes: [{ name: 'by_owner', fields: ['owner', 'createdAt'] }] });
const events = defineCollection({ name: 'events', key: 'user', id: 'eventId', indexes: [{ name: 'by_kind', fields: ['kind'] }] });
const counters = defineCollection({ name: 'counters', key: 'name', indexes: [{ name: 'by_n', fields: ['n'] }] });

const ref = (name: string) => ({ key: name, id: name });
const put = (name: string, n: number, expectVersion?: number): ShardWrite => ({
  op: 'put',
  collection: 'counters',
  ref: ref(name),
  slot: slotOf(name),
  doc: { name, n },
  ...(expectVersion === undefined ? {} : { options: { expectVersion } }),
});

function codeOf(result: ShardWriteResult): string | undefined {
  return result.ok ? undefined : (result.error as ShoalError).code;
}

export function logCases(engines: EngineOpener): void {
  describe('writeBatch', () => {
    let engine: ShardEngine;

    before(async () => {
      ({ engine } = await engines.fresh('batch'));
      await engine.ensureCollection(collectionSpec(counters));
    });

    it('applies every write but the failing one, which leaves no trace', async () => {
      await engine.put('counters', ref('a'), slotOf('a'), { name: 'a', n: 1 });
      const seqBefore = await engine.lastSeq();
      const results = await engine.writeBatch([
        put('b', 1),
        put('a', 2, 7), // stale compare-and-set: CONFLICT
        { op: 'update', collection: 'counters', ref: ref('missing'), changes: { n: 1 } }, // NOT_FOUND
        { op: 'increment', collection: 'counters', ref: ref('c'), slot: slotOf('c'), deltas: { n: 5 } },
        put('a', 3, 1), // the right version: applies
        { op: 'delete', collection: 'counters', ref: ref('b') },
      ]);
      assert.deepEqual(results.map(codeOf), [undefined, 'CONFLICT', 'NOT_FOUND', undefined, undefined, undefined]);
      assert.equal(results[5].ok && results[5].value, true);
      assert.deepEqual((await engine.get('counters', ref('a')))?.doc, { name: 'a', n: 3 });
      assert.equal((await engine.get('counters', ref('a')))?.version, 2);
      assert.equal(await engine.get('counters', ref('b')), undefined);
      assert.deepEqual((await engine.get('counters', ref('c')))?.doc, { name: 'c', n: 5 });
      // One change-log entry per applied write, none for the failed ones, in batch order.
      const logged = (await engine.changesSince(seqBefore, [], 100)).map((c) => `${c.key}:${c.after === null ? 'deleted' : c.after.version}`);
      assert.deepEqual(logged, ['b:deleted', 'c:1', 'a:2', 'b:deleted']);
      assert.equal(await engine.lastSeq(), seqBefore + 4);
    });

    it('answers a write of a batch exactly as the single call would', async () => {
      const [single] = await engine.writeBatch([put('d', 4)]);
      assert.ok(single.ok);
      assert.deepEqual(single.value, { key: 'd', id: 'd', version: 1, doc: { name: 'd', n: 4 } });
      const [bad] = await engine.writeBatch([{ op: 'put', collection: 'nowhere', ref: ref('x'), slot: slotOf('x'), doc: { name: 'x' } }]);
      assert.equal(codeOf(bad), 'NOT_FOUND');
    });
  });

  it('keeps what a batch committed across close and reopen', async () => {
    const { engine: durable, name } = await engines.fresh('batch-durable');
    await durable.ensureCollection(collectionSpec(counters));
    const results = await durable.writeBatch(Array.from({ length: 50 }, (_, i) => put(`k${i}`, i)));
    assert.ok(results.every((r) => r.ok));
    await durable.close();
    const reopened = await engines.reopen(name);
    for (let i = 0; i < 50; i++) assert.deepEqual((await reopened.get('counters', ref(`k${i}`)))?.doc, { name: `k${i}`, n: i });
    assert.equal(await reopened.lastSeq(), 50);
    // Indexes saw the batch too.
    const rows = await reopened.query('counters', { where: { n: { gte: 45 } }, orderBy: [{ field: 'n' }] });
    assert.ok(rows.kind === 'rows');
    assert.deepEqual(rows.rows.map((r) => r.n), [45, 46, 47, 48, 49]);
  });

  it('moves a slot: export, import, catch up from the change log, drop', async () => {
    const { engine: source } = await engines.fresh('source');
    const { engine: target } = await engines.fresh('target');
    for (const e of [source, target]) {
      await e.ensureCollection(collectionSpec(links));
      await e.ensureCollection(collectionSpec(events));
    }
    const slot = slotOf('hot');
    const otherSlot = slotOf('cold');
    for (let i = 0; i < 25; i++) await source.put('events', { key: 'hot', id: `e${i}` }, slot, { user: 'hot', eventId: `e${i}`, kind: 'k' });
    await putDoc(source, links, { code: 'hot', url: 'u', owner: 'o', createdAt: 1 });
    await putDoc(source, links, { code: 'cold', url: 'u', owner: 'o', createdAt: 1 });
    const startSeq = await source.lastSeq();
    let cursor = 0;
    let pages = 0;
    for (;;) {
      const page = await source.exportSlot(slot, { afterRowId: cursor, limit: 10 });
      await target.importDocuments(slot, page.documents);
      cursor = page.lastRowId;
      pages++;
      // Writes made during the copy are caught up below.
      if (pages === 1) {
        await source.update('events', { key: 'hot', id: 'e0' }, { kind: 'changed' });
        await source.delete('events', { key: 'hot', id: 'e1' });
        await source.put('events', { key: 'hot', id: 'new' }, slot, { user: 'hot', eventId: 'new' });
      }
      if (page.done) break;
    }
    assert.ok(pages >= 3);
    const changes = await source.changesSince(startSeq, [slot], 1000);
    assert.deepEqual(changes.map((c) => [c.id, c.after === null]), [['e0', false], ['e1', true], ['new', false]]);
    assert.ok(changes.every((c, i) => i === 0 || c.seq > changes[i - 1].seq), 'the log answers in seq order');
    assert.equal((await source.changesSince(startSeq, [otherSlot], 1000)).length, 0);
    await target.applyChanges(changes);
    assert.equal((await target.get('events', { key: 'hot', id: 'e0' }))?.doc.kind, 'changed');
    assert.equal(await target.get('events', { key: 'hot', id: 'e1' }), undefined);
    assert.equal((await target.get('events', { key: 'hot', id: 'new' }))?.version, 1);
    assert.equal(await target.get('links', { key: 'cold', id: 'cold' }), undefined);
    assert.equal((await target.slotSizes()).get(slot), 26);
    assert.deepEqual(await target.slotSizes(), new Map([[slot, 26]]));
    assert.equal((await source.slotSizes()).get(slot), 26);
    assert.equal((await target.get('events', { key: 'hot', id: 'e5' }))?.version, (await source.get('events', { key: 'hot', id: 'e5' }))?.version);
    const dropSeq = await source.lastSeq();
    assert.equal(await source.dropSlot(slot), 26);
    assert.equal((await source.slotSizes()).get(slot), undefined);
    assert.equal((await source.get('links', { key: 'cold', id: 'cold' }))?.version, 1);
    assert.equal((await source.changesSince(dropSeq, [slot], 1000)).length, 26, 'the drop is in the log');
  });

  it('counts reads and writes per slot', async () => {
    const { engine: counted } = await engines.fresh('counted');
    await counted.ensureCollection(collectionSpec(links));
    await putDoc(counted, links, { code: 'a', url: 'u', owner: 'o', createdAt: 1 });
    await putDoc(counted, links, { code: 'a', url: 'v', owner: 'o', createdAt: 1 });
    await counted.get('links', { key: 'a', id: 'a' });
    await counted.get('links', { key: 'missing', id: 'missing' });
    const bySlot = new Map((await counted.slotCounters()).map((c) => [c.slot, c]));
    assert.deepEqual(bySlot.get(slotOf('a')), { slot: slotOf('a'), reads: 1, writes: 2 });
    assert.equal(bySlot.get(slotOf('missing'))?.reads, 1);
  });
}
