import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { consistentHash, hashString, ipHash, maglev, type Endpoint, type Strategy } from '../../src/balance/index.ts';
import { endpointsNamed } from '../support/balance-support.ts';

const keys = Array.from({ length: 10_000 }, (_, i) => `10.${(i >> 8) & 255}.${i & 255}.${i % 7}`);
const nodeIds = (count: number) => Array.from({ length: count }, (_, i) => `node-${i}`);

function assignments(strategy: Strategy, endpoints: readonly Endpoint[], keyList: readonly string[]): string[] {
  return keyList.map((key) => {
    const chosen = strategy.pick(endpoints, { key });
    if (chosen === undefined) throw new Error(`no endpoint for ${key}`);
    return chosen.id;
  });
}

function tally(ids: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
  return counts;
}

describe('hashString', () => {
  it('is deterministic, seed-dependent and spreads similar keys', () => {
    assert.equal(hashString('10.0.0.1'), hashString('10.0.0.1'));
    assert.notEqual(hashString('10.0.0.1'), hashString('10.0.0.1', 1));
    assert.notEqual(hashString('node-1'), hashString('node-2'));
    const highBits = tally(keys.map((key) => String(hashString(key) >>> 28)));
    assert.equal(highBits.size, 16);
    for (const count of highBits.values()) assert.ok(Math.abs(count - keys.length / 16) < keys.length / 16 / 5);
  });
});

const sticky: Array<[string, () => Strategy]> = [
  ['ip-hash', () => ipHash()],
  ['consistent-hash', () => consistentHash()],
  ['maglev', () => maglev()],
];

for (const [name, make] of sticky) {
  describe(`${name}`, () => {
    it('is sticky: the same key reaches the same endpoint, for 10 000 keys', () => {
      const strategy = make();
      const endpoints = endpointsNamed(...nodeIds(5));
      const first = assignments(strategy, endpoints, keys);
      // Interleaved keyless picks must not disturb the mapping.
      for (let i = 0; i < 17; i++) strategy.pick(endpoints);
      assert.deepEqual(assignments(strategy, endpoints, keys), first);
      assert.deepEqual(assignments(make(), endpoints, keys), first, 'a fresh instance agrees');
      assert.equal(tally(first).size, 5, 'every endpoint receives keys');
    });

    it('maps keys the same whatever order the endpoints arrive in', () => {
      const endpoints = endpointsNamed(...nodeIds(6));
      const reversed = [...endpoints].reverse();
      assert.deepEqual(assignments(make(), reversed, keys), assignments(make(), endpoints, keys));
    });

    it('sends an excluded endpoint\'s keys elsewhere, consistently, and leaves other keys alone', () => {
      const strategy = make();
      const endpoints = endpointsNamed(...nodeIds(5));
      const exclude = new Set(['node-2']);
      const before = assignments(strategy, endpoints, keys);
      const after = keys.map((key) => strategy.pick(endpoints, { key, exclude })!.id);
      const again = keys.map((key) => strategy.pick(endpoints, { key, exclude })!.id);
      assert.deepEqual(again, after);
      for (let i = 0; i < keys.length; i++) {
        if (before[i] === 'node-2') assert.notEqual(after[i], 'node-2');
        else assert.equal(after[i], before[i]);
      }
      assert.ok(tally(after.filter((_, i) => before[i] === 'node-2')).size >= 2, 'excluded keys spread over several endpoints');
    });

    it('honours weights', () => {
      const endpoints: Endpoint[] = [{ id: 'heavy', weight: 3 }, { id: 'light' }, { id: 'drained', weight: 0 }];
      const counts = tally(assignments(make(), endpoints, keys));
      assert.equal(counts.get('drained'), undefined);
      const heavyShare = (counts.get('heavy') ?? 0) / keys.length;
      assert.ok(Math.abs(heavyShare - 0.75) < 0.06, `heavy share ${heavyShare}`);
    });
  });
}

for (const [name, make] of sticky.slice(1)) {
  describe(`${name} distribution`, () => {
    const manyKeys = Array.from({ length: 100_000 }, (_, i) => `user-${i}`);

    it('spreads keys within ±15% of even over 10 endpoints', () => {
      const counts = tally(assignments(make(), endpointsNamed(...nodeIds(10)), manyKeys));
      assert.equal(counts.size, 10);
      for (const [id, count] of counts) {
        const ratio = count / (manyKeys.length / 10);
        assert.ok(ratio > 0.85 && ratio < 1.15, `${id} received ${ratio.toFixed(3)} of an even share`);
      }
    });

    it('moves at most about 1/N of keys, all to the newcomer, when an 11th endpoint joins', () => {
      const before = assignments(make(), endpointsNamed(...nodeIds(10)), manyKeys);
      const after = assignments(make(), endpointsNamed(...nodeIds(11)), manyKeys);
      let moved = 0;
      let movedElsewhere = 0;
      for (let i = 0; i < manyKeys.length; i++) {
        if (before[i] === after[i]) continue;
        moved++;
        if (after[i] !== 'node-10') movedElsewhere++;
      }
      const fraction = moved / manyKeys.length;
      assert.ok(fraction <= 1 / 10 + 0.05, `${(fraction * 100).toFixed(1)}% of keys moved`);
      assert.ok(fraction >= 0.05, 'the newcomer takes its share');
      // Maglev trades a little extra movement for its near-perfect balance.
      assert.ok(movedElsewhere / manyKeys.length <= (name === 'maglev' ? 0.02 : 0), `${movedElsewhere} keys moved between old endpoints`);
    });

    it('rebuilds when an endpoint leaves, moving only that endpoint\'s keys', () => {
      const strategy = make();
      const all = endpointsNamed(...nodeIds(10));
      const before = assignments(strategy, all, manyKeys.slice(0, 20_000));
      const after = assignments(strategy, all.filter((endpoint) => endpoint.id !== 'node-4'), manyKeys.slice(0, 20_000));
      let unexpected = 0;
      for (let i = 0; i < before.length; i++) {
        assert.notEqual(after[i], 'node-4');
        if (before[i] !== 'node-4' && after[i] !== before[i]) unexpected++;
      }
      assert.ok(unexpected / before.length <= (name === 'maglev' ? 0.02 : 0), `${unexpected} other keys moved`);
    });
  });
}

describe('maglev options', () => {
  it('rejects a table size that is not prime', () => {
    assert.throws(() => maglev({ tableSize: 65_536 }), /prime/);
  });

  it('works with a small prime table', () => {
    const counts = tally(assignments(maglev({ tableSize: 101 }), endpointsNamed('a', 'b', 'c'), keys));
    assert.equal(counts.size, 3);
  });
});

describe('consistentHash options', () => {
  it('rejects a non-positive virtualNodes', () => {
    assert.throws(() => consistentHash({ virtualNodes: 0 }), /virtualNodes/);
  });
});
