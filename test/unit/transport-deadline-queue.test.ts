import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { DeadlineQueue, type Expirable } from '../../src/transport/tcp/deadline-queue.ts';

/** Deadlines count from one base, so the order under test does not depend on how fast entries are made. */
/** Waits until `count` entries expired, or a generous limit passed (a slow machine still gets there). */
async function untilExpired(expired: string[], count: number): Promise<void> {
  const until = Date.now() + 5_000;
  while (expired.length < count && Date.now() < until) await sleep(10);
  await sleep(60);
}

function entry(name: string, base: number, inMs: number, expired: string[]): Expirable & { name: string } {
  return { name, deadline: base + inMs, heapIndex: -1, expire: () => expired.push(name) };
}

describe('deadline queue', () => {
  it('expires entries in deadline order, whatever order they were added in', async () => {
    const expired: string[] = [];
    const queue = new DeadlineQueue();
    const order = [40, 10, 30, 5, 20, 15, 35, 25];
    const base = performance.now();
    for (const ms of order) queue.add(entry(`t${ms}`, base, ms, expired));
    await untilExpired(expired, order.length);
    assert.deepEqual(expired, [...order].sort((a, b) => a - b).map((ms) => `t${ms}`));
  });

  it('never expires an entry removed before its deadline, and keeps the heap consistent', async () => {
    const expired: string[] = [];
    const queue = new DeadlineQueue();
    const base = performance.now();
    const entries = Array.from({ length: 50 }, (_, i) => entry(`e${i}`, base, 5 + ((i * 37) % 50), expired));
    for (const e of entries) queue.add(e);
    const removed = new Set<string>();
    for (let i = 0; i < entries.length; i += 3) {
      queue.remove(entries[i]);
      removed.add(entries[i].name);
      assert.equal(entries[i].heapIndex, -1);
    }
    queue.remove(entries[0]);
    await untilExpired(expired, entries.length - removed.size);
    assert.equal(expired.length, entries.length - removed.size);
    assert.equal(expired.some((name) => removed.has(name)), false);
    const deadlines = expired.map((name) => entries.find((e) => e.name === name)!.deadline);
    assert.deepEqual(deadlines, [...deadlines].sort((a, b) => a - b));
  });
});
