import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Backoff } from '../../src/core/index.ts';

describe('Backoff', () => {
  it('doubles each delay up to the cap and starts over after reset', () => {
    const backoff = new Backoff({ initialMs: 100, maxMs: 1000 });
    assert.deepEqual([1, 2, 3, 4, 5, 6].map(() => backoff.next()), [100, 200, 400, 800, 1000, 1000]);
    backoff.reset();
    assert.equal(backoff.next(), 100);
  });

  it('takes another growth factor', () => {
    const backoff = new Backoff({ initialMs: 10, maxMs: 100, factor: 3 });
    assert.deepEqual([1, 2, 3, 4].map(() => backoff.next()), [10, 30, 90, 100]);
  });

  it('stays at the cap however many failures there are', () => {
    const backoff = new Backoff({ initialMs: 1, maxMs: 2000 });
    for (let i = 0; i < 10_000; i++) backoff.next();
    assert.equal(backoff.next(), 2000);
    assert.ok(Number.isFinite(backoff.failures));
  });

  it('refuses a policy whose cap is below its first delay', () => {
    assert.throws(() => new Backoff({ initialMs: 100, maxMs: 10 }), RangeError);
  });
});
