/**
 * A chaos run end to end against a made-up cluster (registers in memory, faults that make them
 * refuse or time out): the report's shape and counts, the verdict on a store that keeps its
 * promises, and on two that do not (one loses acknowledged writes, one reads stale values).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pickKeys, runChaosTest, type ChaosRunOptions, type RegisterStore } from '../../src/cluster/index.ts';
import { chaosReportText } from '../../src/cli/chaos-report-text.ts';
import { FakeFaults, MemoryRegisters } from '../support/chaos-fakes.ts';

const run = (store: MemoryRegisters, faults: FakeFaults, options: Partial<ChaosRunOptions> = {}) =>
  runChaosTest(store, faults, { durationMs: 800, faults: ['kill', 'partition'], keys: 4, clients: 4, seed: 7, runId: 'test', settleMs: 0, ...options });

describe('a chaos run', () => {
  it('records every operation, injects the planned faults, heals, and passes a store that keeps its promises', async () => {
    const store = new MemoryRegisters({ seed: 3, timeoutAfterApply: 0.3, timeoutBeforeApply: 0.3 });
    const faults = new FakeFaults(store);
    const report = await run(store, faults, { faults: ['partition'] });

    assert.equal(report.passed, true, chaosReportText(report));
    assert.equal(report.linearizable, true);
    assert.deepEqual(report.lostWrites, []);
    assert.deepEqual(report.violations, []);
    const { operations } = report;
    assert.ok(operations.total > 100, `only ${operations.total} operations`);
    assert.equal(operations.ok + operations.failed + operations.uncertain, operations.total);
    assert.ok(operations.uncertain > 0, 'timeouts during the partition make some writes uncertain');
    for (const kind of ['read', 'write', 'cas', 'increment'] as const) assert.ok(operations.byKind[kind].ok > 0, `some ${kind} succeeded`);

    assert.ok(report.faults.length >= 1);
    assert.deepEqual(report.faults.map((f) => [f.kind, f.outcome]), faults.injected.map((f) => [f.kind, 'injected']));
    assert.equal(faults.healed, 1);
    assert.deepEqual(Object.keys(report.finalReads).sort(), [...report.keys].sort());
    assert.deepEqual(report.unreadKeys, []);
    // Plain JSON: nothing that JSON.stringify would drop or turn into null.
    assert.deepEqual(JSON.parse(JSON.stringify(report)), report);
  });

  it('moves to fresh keys once each has had its share of operations, and reads every one back', async () => {
    const store = new MemoryRegisters({ seed: 13 });
    const report = await run(store, new FakeFaults(store), { faults: [], opsPerKey: 20, durationMs: 400 });
    assert.equal(report.passed, true, chaosReportText(report));
    assert.ok(report.generations > 1);
    assert.equal(report.keysAtATime, 4);
    assert.equal(report.keys.length, 4 * report.generations);
    assert.equal(new Set(report.keys).size, report.keys.length);
    assert.ok(report.keys.every((key) => /^k\d+-g\d+-test$/.test(key)));
    assert.deepEqual(Object.keys(report.finalReads).sort(), [...report.keys].sort());
  });

  it('keeps at most maxOpenPerKey operations open on one key, however many clients there are', async () => {
    const inner = new MemoryRegisters({ seed: 17 });
    const open = new Map<string, number>();
    let most = 0;
    const counted = <T>(key: string, call: () => Promise<T>) => {
      const now = (open.get(key) ?? 0) + 1;
      open.set(key, now);
      most = Math.max(most, now);
      return call().finally(() => open.set(key, open.get(key)! - 1));
    };
    const store: RegisterStore = {
      locate: (key) => inner.locate(key),
      get: (key) => counted(key, () => inner.get(key)),
      put: (key, n, writer, expectVersion) => counted(key, () => inner.put(key, n, writer, expectVersion)),
      update: (key, n, writer, expectVersion) => counted(key, () => inner.update(key, n, writer, expectVersion)),
      increment: (key, delta) => counted(key, () => inner.increment(key, delta)),
    };
    const report = await runChaosTest(store, new FakeFaults(inner), { durationMs: 400, faults: [], keys: 2, clients: 12, seed: 3, runId: 'cap', settleMs: 0, maxOpenPerKey: 2 });
    assert.equal(report.passed, true, chaosReportText(report));
    assert.equal(most, 2);
  });

  it('counts calls refused while a node is down as failed, and still passes', async () => {
    const store = new MemoryRegisters({ seed: 5 });
    const report = await run(store, new FakeFaults(store), { faults: ['kill'] });
    assert.equal(report.passed, true, chaosReportText(report));
    assert.ok(report.operations.failed > 0, 'calls to the killed node were refused');
    assert.equal(report.operations.uncertain, 0);
  });

  it('reports acknowledged writes that a store lost, with the writes that had to survive', async () => {
    const store = new MemoryRegisters({ seed: 9 });
    // The loss happens after the workload ends, so the history until then is fine and only the read-back is wrong.
    const report = await run(store, new FakeFaults(store, { onHeal: () => store.loseLastWrites() }), { faults: [], durationMs: 400 });
    assert.equal(report.passed, false);
    assert.equal(report.linearizable, false);
    assert.ok(report.lostWrites.length > 0, chaosReportText(report));
    for (const lost of report.lostWrites) {
      assert.ok(lost.lastAcknowledged.length > 0);
      assert.ok(lost.lastAcknowledged.every((op) => op.outcome === 'ok' && op.retMs !== null));
    }
    // Each failing key shows its own minimal history, which ends with the final read.
    assert.deepEqual(report.violations.map((v) => v.key).sort(), report.lostWrites.map((l) => l.key).sort());
    for (const v of report.violations) assert.ok(v.minimalHistory.some((op) => op.process === 'final'), v.explanation);
    const text = chaosReportText(report);
    assert.match(text, /acknowledged writes lost: \d+ key\(s\)/);
    assert.match(text, /verdict: NOT linearizable/);
    assert.match(text, /FAIL\n$/);
  });

  it('finds a store that reads stale values not linearizable, and does not call that a lost write', async () => {
    const store = new MemoryRegisters({ seed: 11, staleReads: true });
    const report = await run(store, new FakeFaults(store), { faults: [], durationMs: 400 });
    assert.equal(report.linearizable, false);
    assert.ok(report.violations.length > 0);
    for (const v of report.violations) {
      assert.ok(v.minimalHistory.length >= 2 && v.minimalHistory.length <= 12, v.explanation);
      assert.match(v.explanation, /no order of these/);
    }
    assert.deepEqual(report.lostWrites, []);
  });
});

describe('the keys of a run', () => {
  it('are spread over the nodes that hold them, and named after the run', () => {
    const store = new MemoryRegisters();
    const keys = pickKeys(6, 'r1', store);
    assert.equal(new Set(keys).size, 6);
    assert.ok(keys.every((key) => key.endsWith('-r1')));
    const perNode = Map.groupBy(keys, (key) => store.locate(key));
    assert.deepEqual([...perNode.values()].map((list) => list.length), [3, 3]);
  });

  it('start from another node each generation, so fewer keys than nodes still meet every node', () => {
    const store = new MemoryRegisters();
    assert.deepEqual([0, 1, 2].map((turn) => pickKeys(1, `g${turn}`, store, turn).map((key) => store.locate(key))), [['node-1'], ['node-2'], ['node-1']]);
  });

  it('are k1…kN where the store cannot locate them', () => {
    assert.deepEqual(pickKeys(3, 'r2', {}), ['k1-r2', 'k2-r2', 'k3-r2']);
  });
});
