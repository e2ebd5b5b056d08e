/**
 * Compaction and snapshots: a follower that needs compacted entries is named once in
 * ready().snapshots, gets no appends until the host reports the transfer, installs the
 * snapshot and catches up; a failed transfer is retried; a replica boots from a snapshot.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ShoalError } from '../../src/core/index.ts';
import { RaftGroup } from '../support/raft-group.ts';

const isCode = (code: string) => (err: unknown) => err instanceof ShoalError && err.code === code;

/** s1 leads; s3 missed ten commands, which s1 then compacted away. */
function behindCompaction(seed: number): RaftGroup {
  const group = new RaftGroup({ voters: ['s1', 's2', 's3'], seed });
  group.elect('s1');
  group.isolate('s3');
  for (let i = 0; i < 10; i++) group.node('s1').propose(`c${i}`);
  group.tick(2);
  group.compact('s1', group.node('s1').status().applied);
  group.heal();
  return group;
}

const expected = Array.from({ length: 10 }, (_, i) => `c${i}`);

describe('snapshots', () => {
  it('names a follower behind the compacted log once, then catches it up from the snapshot', () => {
    const group = behindCompaction(61);
    group.tick(10);
    const asked = group.snapshots.filter((s) => s.to === 's3');
    assert.equal(asked.length, 1, 'asked once, not on every tick');
    assert.equal(asked[0].meta.index, group.node('s1').status().applied, 'at the applied index of the leader');
    assert.equal(group.node('s1').status().peers.find((p) => p.id === 's3')?.snapshotting, true);
    const sentWhileWaiting = group.queue.length;
    assert.equal(sentWhileWaiting, 0);
    group.sendSnapshot('s1', 's3', asked[0].meta);
    group.node('s1').snapshotSent('s3', true);
    group.node('s1').propose('after');
    group.tick(4);
    assert.deepEqual(group.commands('s3'), [...expected, 'after']);
    assert.equal(group.node('s3').status().commit, group.node('s1').status().commit);
    assert.equal(group.node('s1').status().peers.find((p) => p.id === 's3')?.snapshotting, false);
  });

  it('asks again after a failed transfer, once the follower answers', () => {
    const group = behindCompaction(62);
    group.tick(4);
    assert.equal(group.snapshots.length, 1);
    group.node('s1').snapshotSent('s3', false);
    group.tick(4);
    assert.equal(group.snapshots.length, 2);
    const { meta } = group.snapshots[1];
    group.sendSnapshot('s1', 's3', meta);
    group.node('s1').snapshotSent('s3', true);
    group.tick(4);
    assert.deepEqual(group.commands('s3'), expected);
  });

  it('keeps what follows the snapshot when the follower holds the snapshot’s last entry', () => {
    const group = new RaftGroup({ voters: ['s1', 's2', 's3'], seed: 63 });
    group.elect('s1');
    group.filter = (m) => m.type !== 'append' || m.entries.length > 0 || m.to !== 's3';
    for (let i = 0; i < 4; i++) group.node('s1').propose(`c${i}`);
    group.settle();
    const s3 = group.node('s3').status();
    assert.equal(s3.lastIndex, group.node('s1').status().lastIndex);
    assert.ok(s3.commit < s3.lastIndex, 's3 has the entries but has not heard they committed');
    const meta = { index: s3.commit + 1, term: group.logOf('s3')[s3.commit][1], config: s3.config };
    group.heal();
    group.sendSnapshot('s1', 's3', meta);
    assert.equal(group.node('s3').status().lastIndex, s3.lastIndex, 'the acknowledged entries after the snapshot stay');
    assert.deepEqual(group.logOf('s3').map(([i]) => i), [meta.index + 1, meta.index + 2, meta.index + 3].filter((i) => i <= s3.lastIndex));
  });

  it('refuses a compaction beyond what is applied and a snapshot not above the commit index', () => {
    const group = new RaftGroup({ voters: ['s1', 's2', 's3'], seed: 64 });
    group.elect('s1');
    group.node('s1').propose('x');
    group.tick(2);
    const { applied, commit, config } = group.node('s2').status();
    assert.throws(() => group.node('s2').compact(applied + 1), isCode('VALIDATION'));
    assert.throws(() => group.node('s2').installSnapshot({ index: commit, term: 1, config }), isCode('CONFLICT'));
    assert.throws(() => group.node('s2').installSnapshot({ index: commit + 1, term: 1, config: { voters: 'x' } as never }), isCode('VALIDATION'));
  });

  it('boots from a snapshot and applies only what follows it', () => {
    const group = new RaftGroup({ voters: ['s1', 's2', 's3'], seed: 65 });
    group.elect('s1');
    for (const c of ['a', 'b', 'c']) group.node('s1').propose(c);
    group.tick(2);
    const { applied } = group.node('s2').status();
    group.compact('s2', applied);
    group.node('s1').propose('d');
    group.tick(2);
    const lastIndex = group.node('s2').status().lastIndex;
    group.crash('s2');
    group.start('s2');
    const status = group.node('s2').status();
    assert.deepEqual([status.applied, status.lastIndex], [applied, lastIndex]);
    group.tick(2);
    assert.deepEqual(group.commands('s2'), ['a', 'b', 'c', 'd']);
  });
});
