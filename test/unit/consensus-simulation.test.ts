/**
 * Raft in a deterministic simulation (test/support/raft-sim): seeded networks that delay,
 * lose, duplicate and reorder messages and partition replicas, crashes that lose what was not
 * persisted, stalled replicas, clients writing, reading and changing the membership, and code
 * that checks election safety, log matching, leader completeness, state machine safety, the
 * durability of acknowledged writes and linearizable reads on every step.
 *
 *   RAFT_SIM_SEEDS=N      seeds per group size (default 100)
 *   RAFT_SIM_SEED=S       run only seed S (with RAFT_SIM_REPLICAS=3|5 to pick one size)
 *   RAFT_SIM_TICKS=T      ticks of faults per seed (default 3000)
 *   RAFT_SIM_TRACE=1      print the events of the runs
 */
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { SafetyChecker, SimulationViolation, type DurableLog } from '../support/raft-sim/checker.ts';
import { runSimulation, type SimulationReport } from '../support/raft-sim/simulation.ts';

const env = process.env;
const SEEDS = Number(env.RAFT_SIM_SEEDS ?? 100);
const TICKS = Number(env.RAFT_SIM_TICKS ?? 3000);
const ONLY_SEED = env.RAFT_SIM_SEED === undefined ? undefined : Number(env.RAFT_SIM_SEED);
const SIZES = env.RAFT_SIM_REPLICAS === undefined ? [3, 5] : [Number(env.RAFT_SIM_REPLICAS)];
const TRACE = env.RAFT_SIM_TRACE === '1';

type Totals = Omit<SimulationReport, 'seed' | 'replicas'>;

/** Reruns a failing seed with a trace, to show how it ended (the run repeats exactly). */
function traceTail(seed: number, replicas: number): string {
  const lines: string[] = [];
  try {
    runSimulation({ seed, replicas, ticks: TICKS, trace: (line) => lines.push(line) });
  } catch {
    // the failure itself is reported by the caller
  }
  return lines.slice(-25).join('\n');
}

function runSeeds(replicas: number, t: TestContext): Totals {
  const totals: Totals = { ticks: 0, leaders: 0, writesAcked: 0, readsAnswered: 0, crashes: 0, partitions: 0, snapshots: 0, configChanges: 0, messages: 0 };
  const seeds = ONLY_SEED === undefined ? Array.from({ length: SEEDS }, (_, i) => i + 1) : [ONLY_SEED];
  for (const seed of seeds) {
    let report: SimulationReport;
    try {
      report = runSimulation({ seed, replicas, ticks: TICKS, ...(TRACE ? { trace: (line: string) => console.log(line) } : {}) });
    } catch (err) {
      if (!(err instanceof SimulationViolation)) throw err;
      assert.fail(
        `${err.message}\n  seed ${seed}, ${replicas} replicas, ${TICKS} ticks\n` +
          `  reproduce: RAFT_SIM_SEED=${seed} RAFT_SIM_REPLICAS=${replicas} RAFT_SIM_TICKS=${TICKS} RAFT_SIM_TRACE=1 node --test test/unit/consensus-simulation.test.ts\n` +
          `  last events:\n${traceTail(seed, replicas)}`,
      );
    }
    for (const key of Object.keys(totals) as Array<keyof Totals>) totals[key] += report[key];
  }
  t.diagnostic(`${seeds.length} seeds x ${TICKS} ticks, ${replicas} replicas: ${JSON.stringify(totals)}`);
  return totals;
}

describe('Raft in a deterministic simulation', () => {
  for (const replicas of SIZES) {
    it(`keeps every safety property with ${replicas} replicas`, (t) => {
      const totals = runSeeds(replicas, t);
      const runs = ONLY_SEED === undefined ? SEEDS : 1;
      // The runs went through what they are meant to exercise.
      assert.ok(totals.leaders >= 3 * runs, `elections: ${totals.leaders}`);
      assert.ok(totals.writesAcked >= 50 * runs, `acknowledged writes: ${totals.writesAcked}`);
      assert.ok(totals.readsAnswered >= 20 * runs, `answered reads: ${totals.readsAnswered}`);
      assert.ok(totals.crashes >= runs && totals.partitions >= runs, `crashes ${totals.crashes}, partitions ${totals.partitions}`);
      if (runs >= 10) assert.ok(totals.snapshots > 0 && totals.configChanges > 0, `snapshots ${totals.snapshots}, config changes ${totals.configChanges}`);
    });
  }

  it('repeats a seed exactly', () => {
    const run = () => {
      const lines: string[] = [];
      const report = runSimulation({ seed: 4242, replicas: 5, ticks: 1500, trace: (line) => lines.push(line) });
      return { report, lines };
    };
    const first = run();
    assert.ok(first.lines.length > 20);
    assert.deepEqual(run(), first);
  });

  it('catches a host that acknowledges entries it has not synced', () => {
    const caught: string[] = [];
    for (let seed = 1; seed <= 40 && caught.length === 0; seed++) {
      try {
        runSimulation({ seed, replicas: 3, ticks: 3000, hostFault: 'lostWrites' });
      } catch (err) {
        if (!(err instanceof SimulationViolation)) throw err;
        caught.push(err.message);
      }
    }
    assert.equal(caught.length, 1, 'some seed shows the lost writes');
  });
});

/** A log of commands `c` with the given terms, as the checker reads one. */
function log(id: string, terms: number[], names = terms.map((_, i) => `c${i + 1}`)): DurableLog {
  return { id, lastIndex: terms.length, keyAt: (index) => (index <= terms.length ? `${terms[index - 1]}/c/${names[index - 1]}` : undefined) };
}

describe('the safety checker', () => {
  const violation = (pattern: RegExp) => (err: unknown) => err instanceof SimulationViolation && pattern.test(err.message);

  it('sees two leaders in one term', () => {
    const checker = new SafetyChecker();
    checker.sawLeader(2, log('a', [1, 2]));
    assert.throws(() => checker.sawLeader(2, log('b', [1, 2])), violation(/election safety/));
  });

  it('sees a new leader without an entry committed in an earlier term', () => {
    const checker = new SafetyChecker();
    checker.sawCommit(1, 2, log('a', [1, 1]));
    assert.throws(() => checker.sawLeader(2, log('b', [1])), violation(/leader completeness/));
  });

  it('sees replicas commit or apply different entries at one index', () => {
    const checker = new SafetyChecker();
    checker.sawCommit(1, 1, log('a', [1]));
    assert.throws(() => checker.sawCommit(2, 1, log('b', [2])), violation(/state machine safety/));
    assert.throws(() => checker.sawApplied('b', 1, '2/c/c1'), violation(/state machine safety/));
  });

  it('sees logs that agree on a term at an index but differ before it', () => {
    const checker = new SafetyChecker();
    assert.throws(() => checker.checkLogMatching([log('a', [1, 2], ['x', 'y']), log('b', [1, 2], ['z', 'y'])]), violation(/log matching/));
    assert.doesNotThrow(() => checker.checkLogMatching([log('a', [1, 2]), log('b', [1, 3])]));
  });

  it('sees a read that misses a write acknowledged before it was asked, and a lost acknowledged write', () => {
    const checker = new SafetyChecker();
    checker.sawCommit(1, 2, log('a', [1, 1]));
    checker.writeAcked('c2', 2, '1/c/c2');
    checker.readAsked(1);
    assert.throws(() => checker.readAnswered(1, 'b', 1, (i) => (i === 1 ? '1/c/c1' : undefined)), violation(/linearizable reads/));
    checker.readAsked(2);
    assert.doesNotThrow(() => checker.readAnswered(2, 'a', 2, (i) => `1/c/c${i}`));
    assert.throws(() => checker.checkDurable(log('b', [1])), violation(/durability/));
  });
});
