/** Group commit in front of an engine (the engine's own writeBatch: test/conformance/shard-engine-log.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { ShoalError } from '../../src/core/index.ts';
import { WriteBatcher } from '../../src/data/node/write-batcher.ts';
import { slotOf } from '../../src/data/slots.ts';
import type { ShardEngine, ShardWrite, ShardWriteResult } from '../../src/data/types.ts';

const put = (name: string, n: number): ShardWrite => ({ op: 'put', collection: 'counters', ref: { key: name, id: name }, slot: slotOf(name), doc: { name, n } });
const never = () => Promise.reject(new Error('not expected'));

describe('WriteBatcher', () => {
  /** An engine that records each batch and answers CONFLICT for documents named "bad". */
  function recordingEngine(): { engine: ShardEngine; batches: ShardWrite[][] } {
    const batches: ShardWrite[][] = [];
    const engine = {
      async writeBatch(writes: readonly ShardWrite[]): Promise<ShardWriteResult[]> {
        batches.push([...writes]);
        return writes.map((w) => (w.ref.key === 'bad' ? { ok: false, error: new ShoalError('CONFLICT', 'version mismatch') } : { ok: true, value: true }));
      },
    } as unknown as ShardEngine;
    return { engine, batches };
  }

  /** An engine whose commits end only when the test says so, like one across a slow network. */
  function slowEngine(): { engine: ShardEngine; batches: ShardWrite[][]; finish: () => void } {
    const batches: ShardWrite[][] = [];
    const waiting: Array<() => void> = [];
    const engine = {
      writeBatch(writes: readonly ShardWrite[]): Promise<ShardWriteResult[]> {
        batches.push([...writes]);
        return new Promise((resolve) => waiting.push(() => resolve(writes.map(() => ({ ok: true, value: true })))));
      },
    } as unknown as ShardEngine;
    return { engine, batches, finish: () => waiting.shift()?.() };
  }

  it('commits writes submitted together in one batch, each with its own answer', async () => {
    const { engine, batches } = recordingEngine();
    const batcher = new WriteBatcher((writes) => engine.writeBatch(writes), { maxInFlight: 1 });
    const answers = await Promise.allSettled(['a', 'bad', 'c'].map((name) => batcher.submit(put(name, 1), () => true, never)));
    assert.equal(batches.length, 1);
    assert.deepEqual(batches[0].map((w) => w.ref.key), ['a', 'bad', 'c']);
    assert.deepEqual(answers.map((a) => a.status), ['fulfilled', 'rejected', 'fulfilled']);
    assert.equal(((answers[1] as PromiseRejectedResult).reason as ShoalError).code, 'CONFLICT');
  });

  it('sends a write whose slot stopped being writable back through the checks instead of writing it', async () => {
    const { engine, batches } = recordingEngine();
    const batcher = new WriteBatcher((writes) => engine.writeBatch(writes), { maxInFlight: 1 });
    let retried = 0;
    const moved = batcher.submit(put('moved', 1), () => false, async () => {
      retried++;
      return 'redirected';
    });
    const stays = batcher.submit(put('stays', 1), () => true, never);
    assert.deepEqual(await Promise.all([moved, stays]), ['redirected', true]);
    assert.equal(retried, 1);
    assert.deepEqual(batches.map((b) => b.map((w) => w.ref.key)), [['stays']]);
  });

  it('fails every write of a batch whose commit fails', async () => {
    const engine = {
      async writeBatch(): Promise<ShardWriteResult[]> {
        throw new ShoalError('UNAVAILABLE', 'disk full');
      },
    } as unknown as ShardEngine;
    const batcher = new WriteBatcher((writes) => engine.writeBatch(writes), { maxInFlight: 1 });
    const answers = await Promise.allSettled(['a', 'b'].map((name) => batcher.submit(put(name, 1), () => true, () => Promise.resolve(null))));
    assert.deepEqual(answers.map((a) => a.status), ['rejected', 'rejected']);
  });

  it('holds the next batch until the one in flight commits, then sends all that queued meanwhile as one', async () => {
    const { engine, batches, finish } = slowEngine();
    const batcher = new WriteBatcher((writes) => engine.writeBatch(writes), { maxInFlight: 1 });
    const first = batcher.submit(put('a', 1), () => true, never);
    await nextTurn();
    assert.equal(batches.length, 1);
    const later = [batcher.submit(put('b', 1), () => true, never)];
    await nextTurn();
    later.push(batcher.submit(put('c', 1), () => true, never));
    await nextTurn();
    assert.equal(batches.length, 1, 'nothing goes while a batch is in flight');
    finish();
    assert.equal(await first, true);
    // The next batch goes at the end of a turn after the commit answered, not at once.
    for (let turns = 0; turns < 3 && batches.length < 2; turns++) await nextTurn();
    assert.deepEqual(batches.map((b) => b.map((w) => w.ref.key)), [['a'], ['b', 'c']]);
    finish();
    assert.deepEqual(await Promise.all(later), [true, true]);
  });

  it('pipelines batches up to its limit, handing them over in submission order', async () => {
    const { engine, batches, finish } = slowEngine();
    const batcher = new WriteBatcher((writes) => engine.writeBatch(writes), { maxInFlight: 2 });
    const answers = [batcher.submit(put('a', 1), () => true, never)];
    await nextTurn();
    answers.push(batcher.submit(put('b', 1), () => true, never));
    await nextTurn();
    answers.push(batcher.submit(put('c', 1), () => true, never));
    await nextTurn();
    assert.deepEqual(batches.map((b) => b.map((w) => w.ref.key)), [['a'], ['b']], 'a third batch waits while two are in flight');
    finish();
    for (let turns = 0; turns < 3 && batches.length < 3; turns++) await nextTurn();
    assert.deepEqual(batches.map((b) => b.map((w) => w.ref.key)), [['a'], ['b'], ['c']]);
    finish();
    finish();
    assert.deepEqual(await Promise.all(answers), [true, true, true]);
  });

  it('committed() waits for the batch in flight; settle() also commits what is queued', async () => {
    const { engine, batches, finish } = slowEngine();
    const batcher = new WriteBatcher((writes) => engine.writeBatch(writes), { maxInFlight: 1 });
    await batcher.committed();
    let answered = false;
    void batcher.submit(put('a', 1), () => true, never).then(() => (answered = true));
    await nextTurn();
    let committed = false;
    const waiting = batcher.committed().then(() => (committed = true));
    await nextTurn();
    assert.equal(committed, false);
    finish();
    await waiting;
    assert.equal(answered, true, 'committed() resolves after the batch is answered');

    const queued = batcher.submit(put('b', 1), () => true, never);
    const settled = batcher.settle();
    assert.deepEqual(batches.map((b) => b.map((w) => w.ref.key)), [['a'], ['b']], 'settle() sends what is queued at once');
    finish();
    await settled;
    assert.equal(await queued, true);
  });
});
