/**
 * Linearizable reads and the leader lease: when the lease holds and when it lapses, reads
 * confirmed at once under it, reads confirmed by a heartbeat round (ReadIndex), and no read
 * confirmed by a new leader before an entry of its own term commits.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ShoalError } from '../../src/core/index.ts';
import { RaftGroup } from '../support/raft-group.ts';

const E = 10;

/** A three-replica group led by s1, whose noop has committed and whose first round is answered. */
function ledGroup(seed: number, leaseReads = true): RaftGroup {
  const group = new RaftGroup({ voters: ['s1', 's2', 's3'], seed, heartbeatTicks: 2, raft: { leaseReads } });
  group.elect('s1');
  return group;
}

describe('the leader lease', () => {
  it('holds from a majority-answered round until electionTicks - 1 after it began, then lapses', () => {
    const group = ledGroup(51);
    assert.equal(group.node('s1').leaseValid(), true, 'round 1 (tick 0) is answered and the noop committed');
    for (let t = 1; t <= 2 * E; t++) {
      group.tick();
      assert.equal(group.node('s1').leaseValid(), true, `answered rounds renew it (tick ${t})`);
    }
    group.isolate('s1');
    // The last answered round began at tick 2E: the lease runs to tick 2E + E - 1 (exclusive).
    group.tick(E - 2, ['s1']);
    assert.equal(group.node('s1').leaseValid(), true, `still valid at tick ${3 * E - 2}`);
    group.tick(1, ['s1']);
    assert.equal(group.node('s1').leaseValid(), false, `lapsed at tick ${3 * E - 1}`);
    assert.equal(group.node('s1').status().role, 'leader', 'it still leads (check-quorum comes a tick later)');
  });

  it('is not used before an entry of the leader’s own term commits', () => {
    const group = new RaftGroup({ voters: ['s1', 's2', 's3'], seed: 52 });
    group.filter = (m) => m.type !== 'append' || m.entries.length === 0;
    group.elect('s1');
    group.tick(4, ['s1']);
    assert.equal(group.node('s1').leaseValid(), false, 'rounds are answered, but the noop is held back');
    group.heal();
    group.tick(2);
    assert.equal(group.node('s1').leaseValid(), true);
  });

  it('is forfeited by a leadership transfer', () => {
    const group = ledGroup(53);
    group.isolate('s2');
    group.node('s1').transferLeadership('s2');
    assert.equal(group.node('s1').leaseValid(), false);
  });

  it('is never valid on a follower', () => {
    const group = ledGroup(54);
    assert.equal(group.node('s2').leaseValid(), false);
  });
});

describe('linearizable reads', () => {
  it('confirms a read at once, at the commit index, while the lease holds', () => {
    const group = ledGroup(55);
    const commit = group.node('s1').status().commit;
    group.node('s1').read(7);
    group.process('s1');
    assert.deepEqual(group.reads.get('s1'), [{ id: 7, index: commit }]);
    assert.equal(group.queue.length, 0, 'without a round trip');
  });

  it('confirms a read after a majority answers a round begun after it (ReadIndex)', () => {
    const group = ledGroup(56, false);
    const { commit } = group.node('s1').status();
    group.node('s1').read(8);
    group.process('s1');
    assert.deepEqual(group.reads.get('s1'), [], 'not without the round');
    assert.ok(group.queue.length > 0, 'the read started a heartbeat round');
    group.settle();
    assert.deepEqual(group.reads.get('s1'), [{ id: 8, index: commit }]);
  });

  it('confirms nothing on a leader cut off from the majority, and drops the read when it steps down', () => {
    const group = ledGroup(57, false);
    group.isolate('s1');
    group.node('s1').read(9);
    group.tick(E, ['s1']);
    assert.deepEqual(group.reads.get('s1'), []);
    assert.equal(group.node('s1').status().role, 'follower');
    group.heal();
    group.tick(3 * E);
    assert.deepEqual(group.reads.get('s1'), [], 'never confirmed later either');
  });

  it('has a new leader confirm no read before an entry of its own term commits', () => {
    const group = new RaftGroup({ voters: ['s1', 's2', 's3'], seed: 58, raft: { leaseReads: false } });
    group.filter = (m) => m.type !== 'append' || m.entries.length === 0;
    group.elect('s1');
    group.node('s1').read(10);
    group.tick(6, ['s1']);
    assert.deepEqual(group.reads.get('s1'), [], 'rounds are answered, but the noop is held back');
    group.heal();
    group.tick(4);
    const noop = group.logOf('s1').at(-1)?.[0] as number;
    const confirmed = group.reads.get('s1') ?? [];
    assert.equal(confirmed.length, 1);
    assert.ok(confirmed[0].index >= noop, `read index ${confirmed[0].index} covers the noop at ${noop}`);
  });

  it('refuses a read on a follower, like a proposal', () => {
    const group = ledGroup(59);
    assert.throws(
      () => group.node('s2').read(1),
      (err: unknown) => err instanceof ShoalError && err.code === 'UNAVAILABLE' && (err.details as { leader?: string }).leader === 's1',
    );
  });
});
