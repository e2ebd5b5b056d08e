import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  builtinStrategies,
  createStrategy,
  EndpointLoad,
  leastOutstanding,
  peakEwma,
  powerOfTwoChoices,
  random,
  roundRobin,
  smoothWeightedRoundRobin,
  weightedRandom,
  type Endpoint,
  type Strategy,
} from '../../src/balance/index.ts';
import { countPicks, endpointsNamed, seededRandom } from '../support/balance-support.ts';

const abc = endpointsNamed('a', 'b', 'c');
const weighted: Endpoint[] = [
  { id: 'a', weight: 5 },
  { id: 'b', weight: 3 },
  { id: 'c', weight: 2 },
];

/** Asserts each id's share of `total` picks is within `tolerance` (absolute) of its weight share. */
function assertShares(counts: Map<string, number>, endpoints: readonly Endpoint[], total: number, tolerance: number): void {
  const weightSum = endpoints.reduce((sum, endpoint) => sum + (endpoint.weight ?? 1), 0);
  for (const endpoint of endpoints) {
    const expected = (endpoint.weight ?? 1) / weightSum;
    const actual = (counts.get(endpoint.id) ?? 0) / total;
    assert.ok(Math.abs(actual - expected) <= tolerance, `${endpoint.id}: share ${actual}, expected ${expected}`);
  }
}

describe('roundRobin', () => {
  it('spreads 3000 picks over 3 endpoints exactly evenly, in order', () => {
    const strategy = roundRobin();
    const sequence = [0, 1, 2, 3, 4, 5].map(() => strategy.pick(abc)?.id);
    assert.deepEqual(sequence, ['a', 'b', 'c', 'a', 'b', 'c']);
    const counts = countPicks(roundRobin(), abc, 3000);
    assert.deepEqual([...counts.entries()].sort(), [['a', 1000], ['b', 1000], ['c', 1000]]);
  });

  it('keeps spreading evenly when the list shrinks', () => {
    const strategy = roundRobin();
    countPicks(strategy, endpointsNamed('a', 'b', 'c', 'd', 'e'), 4);
    const counts = countPicks(strategy, endpointsNamed('a', 'b'), 100);
    assert.deepEqual([...counts.entries()].sort(), [['a', 50], ['b', 50]]);
  });
});

describe('smoothWeightedRoundRobin', () => {
  it("gives nginx's sequence a a b a c a a for weights 5/1/1, cycle after cycle", () => {
    const strategy = smoothWeightedRoundRobin();
    const endpoints: Endpoint[] = [
      { id: 'a', weight: 5 },
      { id: 'b', weight: 1 },
      { id: 'c', weight: 1 },
    ];
    for (let cycle = 0; cycle < 10; cycle++) {
      const picks = Array.from({ length: 7 }, () => strategy.pick(endpoints)?.id).join(' ');
      assert.equal(picks, 'a a b a c a a');
      // Interleaved within a cycle, unlike plain weighted round robin's a a a a a b c.
      assert.ok(!picks.includes('a a a'), 'the heavy endpoint never comes three times in a row');
    }
  });

  it('honours weights exactly over every cycle', () => {
    const strategy = smoothWeightedRoundRobin();
    for (let cycle = 0; cycle < 20; cycle++) {
      const counts = countPicks(strategy, weighted, 10);
      assert.deepEqual([...counts.entries()].sort(), [['a', 5], ['b', 3], ['c', 2]]);
    }
  });

  it('treats a missing weight as 1 and never picks a drained endpoint while another remains', () => {
    const strategy = smoothWeightedRoundRobin();
    const counts = countPicks(strategy, [{ id: 'a' }, { id: 'b', weight: 3 }, { id: 'd', weight: 0 }], 400);
    assert.deepEqual([...counts.entries()].sort(), [['a', 100], ['b', 300]]);
  });
});

describe('random and weightedRandom', () => {
  it('random spreads uniformly (within 1 point over 100 000 picks)', () => {
    const counts = countPicks(random({ random: seededRandom(1) }), abc, 100_000);
    assertShares(counts, abc, 100_000, 0.01);
  });

  it('weightedRandom honours weights within 1 point over 100 000 picks', () => {
    const counts = countPicks(weightedRandom({ random: seededRandom(2) }), weighted, 100_000);
    assertShares(counts, weighted, 100_000, 0.01);
  });

  it('weightedRandom never picks a drained endpoint while a weighted one remains', () => {
    const endpoints: Endpoint[] = [{ id: 'a', weight: 0 }, { id: 'b' }];
    const counts = countPicks(weightedRandom({ random: seededRandom(3) }), endpoints, 1000);
    assert.equal(counts.get('a'), undefined);
    assert.equal(counts.get('b'), 1000);
  });
});

describe('leastOutstanding', () => {
  it('sends to the idle endpoint while the others have outstanding requests', () => {
    const strategy = leastOutstanding();
    strategy.onStart?.('a');
    strategy.onStart?.('a');
    strategy.onStart?.('b');
    for (let i = 0; i < 10; i++) assert.equal(strategy.pick(abc)?.id, 'c');
    strategy.onStart?.('c');
    strategy.onStart?.('c');
    assert.equal(strategy.pick(abc)?.id, 'b');
    strategy.onEnd?.('a', { latencyMs: 5, ok: true });
    strategy.onEnd?.('a', { latencyMs: 5, ok: true });
    assert.equal(strategy.pick(abc)?.id, 'a');
  });

  it('shares equally among idle endpoints when requests never overlap', () => {
    const strategy = leastOutstanding();
    const counts = new Map<string, number>();
    for (let i = 0; i < 300; i++) {
      const chosen = strategy.pick(abc)!;
      strategy.onStart?.(chosen.id);
      strategy.onEnd?.(chosen.id, { latencyMs: 1, ok: true });
      counts.set(chosen.id, (counts.get(chosen.id) ?? 0) + 1);
    }
    assert.deepEqual([...counts.entries()].sort(), [['a', 100], ['b', 100], ['c', 100]]);
  });

  it('divides outstanding requests by weight', () => {
    const strategy = leastOutstanding();
    const endpoints: Endpoint[] = [{ id: 'big', weight: 4 }, { id: 'small' }];
    // Requests that never finish: the big endpoint ends up holding four times as many.
    const held = new Map<string, number>();
    for (let i = 0; i < 50; i++) {
      const id = strategy.pick(endpoints)!.id;
      strategy.onStart?.(id);
      held.set(id, (held.get(id) ?? 0) + 1);
    }
    assert.deepEqual([...held.entries()].sort(), [['big', 40], ['small', 10]]);
  });
});

describe('powerOfTwoChoices', () => {
  it('never picks the most loaded of three, since it always loses to the other sample', () => {
    const strategy = powerOfTwoChoices({ random: seededRandom(4) });
    for (let i = 0; i < 10; i++) strategy.onStart?.('a');
    const counts = countPicks(strategy, abc, 3000);
    assert.equal(counts.get('a'), undefined);
    assertShares(counts, endpointsNamed('b', 'c'), 3000, 0.05);
  });

  it('favours endpoints by load rank: idle 2/3, middle 1/3, busiest never', () => {
    const strategy = powerOfTwoChoices({ random: seededRandom(5) });
    for (let i = 0; i < 5; i++) strategy.onStart?.('a');
    for (let i = 0; i < 3; i++) strategy.onStart?.('b');
    const counts = countPicks(strategy, abc, 30_000);
    assert.equal(counts.get('a'), undefined);
    assert.ok(Math.abs((counts.get('b') ?? 0) / 30_000 - 1 / 3) < 0.02);
    assert.ok(Math.abs((counts.get('c') ?? 0) / 30_000 - 2 / 3) < 0.02);
  });

  it('balances live load evenly', () => {
    const strategy = powerOfTwoChoices({ random: seededRandom(6) });
    const endpoints = endpointsNamed('a', 'b', 'c', 'd');
    const inFlight: string[] = [];
    for (let i = 0; i < 4000; i++) {
      const id = strategy.pick(endpoints)!.id;
      strategy.onStart?.(id);
      inFlight.push(id);
      // Each request finishes after the next 20 have started.
      if (inFlight.length > 20) strategy.onEnd?.(inFlight.shift()!, { latencyMs: 1, ok: true });
    }
    const held = new Map<string, number>();
    for (const id of inFlight) held.set(id, (held.get(id) ?? 0) + 1);
    for (const endpoint of endpoints) assert.ok((held.get(endpoint.id) ?? 0) >= 3, `${endpoint.id} holds ${held.get(endpoint.id)}`);
  });
});

describe('peakEwma', () => {
  function drive(strategy: Strategy, endpoints: readonly Endpoint[], picks: number, latencyOf: (id: string) => number, clock: { now: number }) {
    const counts = new Map<string, number>();
    for (let i = 0; i < picks; i++) {
      const id = strategy.pick(endpoints)!.id;
      strategy.onStart?.(id);
      clock.now += 1;
      strategy.onEnd?.(id, { latencyMs: latencyOf(id), ok: true });
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    return counts;
  }

  it('shifts traffic away from an endpoint that turns slow', () => {
    const clock = { now: 0 };
    const strategy = peakEwma({ random: seededRandom(7), now: () => clock.now });
    const before = drive(strategy, abc, 3000, () => 10, clock);
    assert.ok((before.get('b') ?? 0) > 600, `b had ${before.get('b')} of 3000 while all were equal`);
    const after = drive(strategy, abc, 3000, (id) => (id === 'b' ? 200 : 10), clock);
    assert.ok((after.get('b') ?? 0) < 150, `b still had ${after.get('b')} of 3000 while slow`);
    assert.ok((after.get('a') ?? 0) > 1200 && (after.get('c') ?? 0) > 1200);
  });

  it('gives a new endpoint a neutral cost so it is tried', () => {
    const clock = { now: 0 };
    const strategy = peakEwma({ random: seededRandom(8), now: () => clock.now });
    drive(strategy, abc, 1000, () => 10, clock);
    const counts = drive(strategy, endpointsNamed('a', 'b', 'c', 'd'), 1000, () => 10, clock);
    const newcomer = counts.get('d') ?? 0;
    // Neither starved (an unknown, costly start) nor flooded (a zero-cost start).
    assert.ok(newcomer > 150 && newcomer < 400, `the newcomer had ${newcomer} of 1000`);
  });

  it('weighs outstanding requests into the cost', () => {
    const clock = { now: 0 };
    const strategy = peakEwma({ random: seededRandom(9), now: () => clock.now });
    const pair = endpointsNamed('a', 'b');
    drive(strategy, pair, 100, () => 10, clock);
    for (let i = 0; i < 3; i++) strategy.onStart?.('a');
    for (let i = 0; i < 20; i++) assert.equal(strategy.pick(pair)?.id, 'b');
  });

  it('rejects a non-positive decay', () => {
    assert.throws(() => peakEwma({ decayMs: 0 }), /decayMs/);
  });
});

describe('EndpointLoad', () => {
  it('counts outstanding requests and ignores unmatched ends', () => {
    const load = new EndpointLoad();
    load.start('a');
    load.start('a');
    load.end('a');
    load.end('b');
    assert.equal(load.outstanding('a'), 1);
    assert.equal(load.outstanding('b'), 0);
    load.end('a');
    load.end('a');
    assert.equal(load.outstanding('a'), 0);
    assert.equal(load.total(), 0);
  });
});

describe('every built-in strategy', () => {
  const names = Object.keys(builtinStrategies);

  it('covers the documented names', () => {
    assert.deepEqual(names.sort(), [
      'consistent-hash',
      'ip-hash',
      'least-conn',
      'least-outstanding',
      'maglev',
      'p2c',
      'peak-ewma',
      'random',
      'round-robin',
      'weighted-random',
      'weighted-round-robin',
    ]);
  });

  for (const name of names) {
    it(`${name}: honours exclusions, returns undefined when nothing remains`, () => {
      const strategy = createStrategy(name);
      const endpoints: Endpoint[] = [{ id: 'a', weight: 2 }, { id: 'b' }, { id: 'c', weight: 3 }, { id: 'd' }];
      const exclude = new Set(['b', 'c']);
      const seen = new Set<string>();
      for (let i = 0; i < 400; i++) {
        const key = i % 2 === 0 ? `client-${i}` : undefined;
        const chosen = strategy.pick(endpoints, { key, exclude });
        assert.ok(chosen !== undefined, `pick ${i} returned undefined`);
        assert.ok(!exclude.has(chosen.id), `pick ${i} chose excluded ${chosen.id}`);
        seen.add(chosen.id);
        strategy.onStart?.(chosen.id);
        strategy.onEnd?.(chosen.id, { latencyMs: 5, ok: true });
      }
      assert.deepEqual([...seen].sort(), ['a', 'd'], 'both remaining endpoints are used');
      assert.equal(strategy.pick(endpoints, { key: 'k', exclude: new Set(['a', 'b', 'c', 'd']) }), undefined);
      assert.equal(strategy.pick(endpoints, { exclude: new Set(['a', 'b', 'c', 'd']) }), undefined);
      assert.equal(strategy.pick([], { key: 'k' }), undefined);
      assert.equal(strategy.pick([]), undefined);
      assert.equal(strategy.pick([{ id: 'only' }], { key: 'k' })?.id, 'only');
    });

    it(`${name}: each factory call has its own state`, () => {
      assert.notEqual(createStrategy(name), createStrategy(name));
    });
  }
});

describe('createStrategy', () => {
  it('builds a strategy by name, including the least-outstanding alias', () => {
    assert.equal(createStrategy('round-robin').name, 'round-robin');
    assert.equal(createStrategy('least-outstanding').name, 'least-conn');
  });

  it('accepts extra strategies', () => {
    const first: Strategy = { name: 'first', pick: (endpoints) => endpoints[0] };
    assert.equal(createStrategy('first', { first: () => first }), first);
  });

  it('names the known strategies when given an unknown one', () => {
    assert.throws(
      () => createStrategy('fastest'),
      (error: Error) =>
        error.message.includes('"fastest"') &&
        error.message.includes('round-robin') &&
        error.message.includes('maglev') &&
        error.message.includes('least-conn'),
    );
    assert.throws(() => createStrategy('toString'), /Unknown balancing strategy/);
  });
});
