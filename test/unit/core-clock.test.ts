import assert from 'node:assert/strict';
import { test } from 'node:test';
import { monotonicMs, wallClockMs } from '../../src/core/index.ts';

function busyWait(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // Spinning: the clocks must not move on their own within one job.
  }
}

test('within one burst of work the clocks keep the value of their first read, never ahead of the real clock', () => {
  const wall = wallClockMs();
  const monotonic = monotonicMs();
  busyWait(5);
  assert.equal(wallClockMs(), wall);
  assert.equal(monotonicMs(), monotonic);
  assert.ok(wall <= Date.now());
  assert.ok(monotonic <= performance.now() - 5);
});

test('after the burst the clocks read again and have moved on', async () => {
  const wall = wallClockMs();
  const monotonic = monotonicMs();
  busyWait(5);
  await Promise.resolve();
  await new Promise((resolve) => setImmediate(resolve));
  assert.ok(monotonicMs() >= monotonic + 5, 'monotonic clock moved by the time spent');
  assert.ok(wallClockMs() >= wall + 4, 'wall clock moved by the time spent');
  const before = performance.now();
  await Promise.resolve();
  assert.ok(monotonicMs() >= before, 'a microtask after the first read sees a fresh value');
});
