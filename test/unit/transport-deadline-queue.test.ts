import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DeadlineQueue, type Expirable } from '../../src/transport/tcp/deadline-queue.ts';
import { ManualClock } from '../support/manual-clock.ts';

function entry(name: string, deadline: number, expired: string[]): Expirable & { name: string } {
  return { name, deadline, heapIndex: -1, expire: () => expired.push(name) };
}

describe('deadline queue', () => {
  it('expires entries in deadline order, whatever order they were added in', () => {
    const clock = new ManualClock();
    const expired: string[] = [];
    const queue = new DeadlineQueue(clock);
    const order = [40, 10, 30, 5, 20, 15, 35, 25];
    for (const ms of order) queue.add(entry(`t${ms}`, ms, expired));
    clock.advance(4);
    assert.deepEqual(expired, [], 'nothing is due before the earliest deadline');
    clock.advance(36);
    assert.deepEqual(expired, [...order].sort((a, b) => a - b).map((ms) => `t${ms}`));
    assert.equal(clock.pendingTimers, 0, 'an empty queue keeps no timer armed');
  });

  it('expires each entry only once its deadline has passed', () => {
    const clock = new ManualClock();
    const expired: string[] = [];
    const queue = new DeadlineQueue(clock);
    queue.add(entry('early', 10, expired));
    queue.add(entry('late', 30, expired));
    clock.advance(10);
    assert.deepEqual(expired, ['early']);
    clock.advance(19);
    assert.deepEqual(expired, ['early']);
    clock.advance(1);
    assert.deepEqual(expired, ['early', 'late']);
  });

  it('never expires an entry removed before its deadline, and keeps the heap consistent', () => {
    const clock = new ManualClock();
    const expired: string[] = [];
    const queue = new DeadlineQueue(clock);
    const entries = Array.from({ length: 50 }, (_, i) => entry(`e${i}`, 5 + ((i * 37) % 50), expired));
    for (const e of entries) queue.add(e);
    const removed = new Set<string>();
    for (let i = 0; i < entries.length; i += 3) {
      queue.remove(entries[i]);
      removed.add(entries[i].name);
      assert.equal(entries[i].heapIndex, -1);
    }
    queue.remove(entries[0]);
    clock.advance(60);
    assert.equal(expired.length, entries.length - removed.size);
    assert.equal(expired.some((name) => removed.has(name)), false);
    const deadlines = expired.map((name) => entries.find((e) => e.name === name)!.deadline);
    assert.deepEqual(deadlines, [...deadlines].sort((a, b) => a - b));
  });
});
