import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ShoalError } from '../../src/core/index.ts';
import { collectionSpec, defineCollection } from '../../src/data/collection.ts';
import { WriteBatcher } from '../../src/data/node/write-batcher.ts';
import { slotOf } from '../../src/data/slots.ts';
import type { SqliteShardEngine } from '../../src/data/sqlite/index.ts';
import type { ShardEngine, ShardWrite, ShardWriteResult } from '../../src/data/types.ts';
import { engineDir, type EngineDir } from '../support/data-engines.ts';

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

describe('SqliteShardEngine.writeBatch', () => {
  let dir: EngineDir;
  let engine: SqliteShardEngine;

  before(() => {
    dir = engineDir();
    engine = dir.open('batch');
    engine.ensureCollection(collectionSpec(counters));
  });
  after(() => dir.cleanup());

  it('applies every write but the failing one, which leaves no trace', () => {
    engine.put('counters', ref('a'), slotOf('a'), { name: 'a', n: 1 });
    const seqBefore = engine.lastSeq();
    const results = engine.writeBatch([
      put('b', 1),
      put('a', 2, 7), // stale compare-and-set: CONFLICT
      { op: 'update', collection: 'counters', ref: ref('missing'), changes: { n: 1 } }, // NOT_FOUND
      { op: 'increment', collection: 'counters', ref: ref('c'), slot: slotOf('c'), deltas: { n: 5 } },
      put('a', 3, 1), // the right version: applies
      { op: 'delete', collection: 'counters', ref: ref('b') },
    ]);
    assert.deepEqual(results.map(codeOf), [undefined, 'CONFLICT', 'NOT_FOUND', undefined, undefined, undefined]);
    assert.equal(results[5].ok && results[5].value, true);
    assert.deepEqual(engine.get('counters', ref('a'))?.doc, { name: 'a', n: 3 });
    assert.equal(engine.get('counters', ref('a'))?.version, 2);
    assert.equal(engine.get('counters', ref('b')), undefined);
    assert.deepEqual(engine.get('counters', ref('c'))?.doc, { name: 'c', n: 5 });
    // One change-log entry per applied write, none for the failed ones, in batch order.
    const logged = engine.changesSince(seqBefore, [], 100).map((c) => `${c.key}:${c.after === null ? 'deleted' : c.after.version}`);
    assert.deepEqual(logged, ['b:deleted', 'c:1', 'a:2', 'b:deleted']);
    assert.equal(engine.lastSeq(), seqBefore + 4);
  });

  it('answers a write of a batch exactly as the single call would', () => {
    const [single] = engine.writeBatch([put('d', 4)]);
    assert.ok(single.ok);
    assert.deepEqual(single.value, { key: 'd', id: 'd', version: 1, doc: { name: 'd', n: 4 } });
    const [bad] = engine.writeBatch([{ op: 'put', collection: 'nowhere', ref: ref('x'), slot: slotOf('x'), doc: { name: 'x' } }]);
    assert.equal(codeOf(bad), 'NOT_FOUND');
  });

  it('keeps what a batch committed across close and reopen', () => {
    const durable = dir.open('durable');
    durable.ensureCollection(collectionSpec(counters));
    const results = durable.writeBatch(Array.from({ length: 50 }, (_, i) => put(`k${i}`, i)));
    assert.ok(results.every((r) => r.ok));
    durable.close();
    const reopened = dir.open('durable');
    for (let i = 0; i < 50; i++) assert.deepEqual(reopened.get('counters', ref(`k${i}`))?.doc, { name: `k${i}`, n: i });
    assert.equal(reopened.lastSeq(), 50);
    // Indexes saw the batch too.
    const rows = reopened.query('counters', { where: { n: { gte: 45 } }, orderBy: [{ field: 'n' }] });
    assert.ok(rows.kind === 'rows');
    assert.deepEqual(rows.rows.map((r) => r.n), [45, 46, 47, 48, 49]);
  });
});

describe('WriteBatcher', () => {
  /** An engine that records each batch and answers CONFLICT for documents named "bad". */
  function recordingEngine(): { engine: ShardEngine; batches: ShardWrite[][] } {
    const batches: ShardWrite[][] = [];
    const engine = {
      writeBatch(writes: readonly ShardWrite[]): ShardWriteResult[] {
        batches.push([...writes]);
        return writes.map((w) => (w.ref.key === 'bad' ? { ok: false, error: new ShoalError('CONFLICT', 'version mismatch') } : { ok: true, value: true }));
      },
    } as unknown as ShardEngine;
    return { engine, batches };
  }

  it('commits writes submitted together in one batch, each with its own answer', async () => {
    const { engine, batches } = recordingEngine();
    const batcher = new WriteBatcher(engine);
    const never = () => Promise.reject(new Error('not expected'));
    const answers = await Promise.allSettled(['a', 'bad', 'c'].map((name) => batcher.submit(put(name, 1), () => true, never)));
    assert.equal(batches.length, 1);
    assert.deepEqual(batches[0].map((w) => w.ref.key), ['a', 'bad', 'c']);
    assert.deepEqual(answers.map((a) => a.status), ['fulfilled', 'rejected', 'fulfilled']);
    assert.equal(((answers[1] as PromiseRejectedResult).reason as ShoalError).code, 'CONFLICT');
  });

  it('sends a write whose slot stopped being writable back through the checks instead of writing it', async () => {
    const { engine, batches } = recordingEngine();
    const batcher = new WriteBatcher(engine);
    let retried = 0;
    const moved = batcher.submit(put('moved', 1), () => false, async () => {
      retried++;
      return 'redirected';
    });
    const stays = batcher.submit(put('stays', 1), () => true, () => Promise.reject(new Error('not expected')));
    assert.deepEqual(await Promise.all([moved, stays]), ['redirected', true]);
    assert.equal(retried, 1);
    assert.deepEqual(batches.map((b) => b.map((w) => w.ref.key)), [['stays']]);
  });

  it('fails every write of a batch whose commit fails', async () => {
    const engine = {
      writeBatch(): ShardWriteResult[] {
        throw new ShoalError('UNAVAILABLE', 'disk full');
      },
    } as unknown as ShardEngine;
    const batcher = new WriteBatcher(engine);
    const answers = await Promise.allSettled(['a', 'b'].map((name) => batcher.submit(put(name, 1), () => true, () => Promise.resolve(null))));
    assert.deepEqual(answers.map((a) => a.status), ['rejected', 'rejected']);
  });
});
