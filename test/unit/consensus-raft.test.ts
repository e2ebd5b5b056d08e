/**
 * Focused tests of the Raft replica: elections (pre-vote, check-quorum, stickiness), terms,
 * log replication and repair, the commit rule of Raft's Figure 8, bad input from the network,
 * restarts and the Ready contract. Time is ticks the test gives; nothing waits on a clock.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RaftNode, type RaftMessage } from '../../src/consensus/index.ts';
import { seededRandom, ShoalError } from '../../src/core/index.ts';
import { RaftGroup } from '../support/raft-group.ts';

const E = 10;
const names = (n: number) => Array.from({ length: n }, (_, i) => `s${i + 1}`);

/** Ticks until some replica leads; fails after many election timeouts. */
function tickUntilLeader(group: RaftGroup): string {
  for (let t = 0; t < 30 * E; t++) {
    const leaders = group.leaders();
    if (leaders.length > 0) return leaders[0];
    group.tick();
  }
  assert.fail('no leader was elected');
}

describe('elections', () => {
  for (const size of [3, 5]) {
    it(`elects exactly one leader in a ${size}-replica group, and every replica follows it`, () => {
      const group = new RaftGroup({ voters: names(size), seed: size });
      const leader = tickUntilLeader(group);
      group.tick(5 * E);
      assert.deepEqual(group.leaders(), [leader], 'a healthy leader keeps its place');
      const term = group.node(leader).status().term;
      for (const id of group.ids) {
        const status = group.node(id).status();
        assert.equal(status.term, term, `${id} is in the leader's term`);
        assert.equal(status.leader, leader, `${id} knows the leader`);
      }
    });
  }

  it('never lets a term go backwards, in memory or on disk', () => {
    const group = new RaftGroup({ voters: names(3), seed: 3 });
    const seen = new Map<string, number>();
    const check = () => {
      for (const id of group.ids) {
        const node = group.nodes.get(id);
        const term = Math.max(node?.status().term ?? 0, group.disks.get(id)?.hardState.term ?? 0);
        assert.ok(term >= (seen.get(id) ?? 0), `${id} went from term ${seen.get(id)} to ${term}`);
        seen.set(id, term);
      }
    };
    const leader = tickUntilLeader(group);
    for (let round = 0; round < 4; round++) {
      const current = group.leaders()[0] ?? leader;
      group.isolate(current);
      for (let t = 0; t < 3 * E; t++) {
        group.tick();
        check();
      }
      group.crash(current);
      group.heal();
      group.start(current);
      for (let t = 0; t < 3 * E; t++) {
        group.tick();
        check();
      }
    }
    const node = group.node(group.leaders()[0]);
    const term = node.status().term;
    node.step({ type: 'vote', from: 's9', to: node.status().id, term: 1, lastIndex: 0, lastTerm: 0, preVote: false, transfer: false });
    assert.equal(node.status().term, term, 'a message from an old term changes nothing');
    assert.ok(term > 1, 'the run went through several terms');
  });

  it('lets a partitioned replica rejoin without bumping terms or disturbing the leader (pre-vote)', () => {
    const group = new RaftGroup({ voters: names(3), seed: 7 });
    const term = group.elect('s1');
    group.isolate('s3');
    group.tick(10 * E);
    assert.equal(group.node('s3').status().term, term, 'pre-votes it cannot win never raise its term');
    group.heal();
    group.tick(3 * E);
    assert.deepEqual(group.leaders(), ['s1']);
    for (const id of group.ids) assert.equal(group.node(id).status().term, term, `${id} stays in term ${term}`);
    assert.equal(group.node('s3').status().leader, 's1');
  });

  it('has followers that hear from a live leader ignore votes for a later term (stickiness)', () => {
    const group = new RaftGroup({ voters: names(3), seed: 8 });
    const term = group.elect('s1');
    group.tick(2);
    const { lastIndex } = group.node('s2').status();
    for (const preVote of [true, false]) {
      group.node('s2').step({ type: 'vote', from: 's3', to: 's2', term: term + 5, lastIndex: lastIndex + 10, lastTerm: term + 4, preVote, transfer: false });
    }
    group.process('s2');
    assert.equal(group.node('s2').status().term, term);
    assert.equal(group.queue.filter((m) => m.type === 'voteReply').length, 0, 'no answer at all');
    group.node('s2').step({ type: 'vote', from: 's3', to: 's2', term: term + 5, lastIndex: lastIndex + 10, lastTerm: term + 4, preVote: false, transfer: true });
    group.process('s2');
    assert.equal(group.node('s2').status().term, term + 5, 'a transfer the leader asked for gets through');
  });

  it('makes an isolated leader step down once a majority has been silent for electionTicks (check-quorum)', () => {
    const group = new RaftGroup({ voters: names(3), seed: 4 });
    const term = group.elect('s1');
    group.isolate('s1');
    group.tick(E - 1, ['s1']);
    assert.equal(group.node('s1').status().role, 'leader', 'still within the window');
    group.tick(1, ['s1']);
    const status = group.node('s1').status();
    assert.equal(status.role, 'follower');
    assert.equal(status.term, term, 'it stepped down on its own, without hearing a later term');
    assert.throws(() => group.node('s1').propose('x'), (err: unknown) => err instanceof ShoalError && err.code === 'UNAVAILABLE');
  });

  it('keeps refusing votes for electionTicks after a restart: it may have promised a lease before the crash', () => {
    const group = new RaftGroup({ voters: names(3), seed: 9 });
    const term = group.elect('s1');
    group.crash('s2');
    group.start('s2');
    const { lastIndex } = group.node('s2').status();
    const ask = () => {
      group.node('s2').step({ type: 'vote', from: 's3', to: 's2', term: term + 1, lastIndex, lastTerm: term, preVote: true, transfer: false });
      group.process('s2');
      return group.queue.splice(0).filter((m) => m.type === 'voteReply');
    };
    assert.deepEqual(ask(), [], 'just restarted: no answer');
    group.isolate('s2');
    group.tick(E, ['s2']);
    group.heal();
    assert.deepEqual(ask().map((m) => m.type === 'voteReply' && m.granted), [true]);
  });

  it('does not let a replica outside the configuration campaign', () => {
    const group = new RaftGroup({ voters: ['s1', 's2'], learners: ['s3'], seed: 5 });
    group.isolate('s1', 's2');
    group.tick(10 * E, ['s3']);
    assert.equal(group.node('s3').status().term, 0);
    group.node('s3').campaign();
    group.process('s3');
    assert.equal(group.node('s3').status().term, 0, 'campaign() on a learner does nothing');
  });
});

describe('log replication', () => {
  it('cuts a deposed leader’s uncommitted entries and replaces them with the new leader’s', () => {
    const group = new RaftGroup({ voters: names(3), seed: 11 });
    group.elect('s1');
    group.node('s1').propose('x1');
    group.settle();
    group.isolate('s1');
    group.node('s1').propose('lost1');
    group.node('s1').propose('lost2');
    group.processAll();
    const cut = group.logOf('s1').slice(-2);
    group.tick(3 * E, ['s2', 's3']);
    const [leader] = group.leaders().filter((id) => id !== 's1');
    assert.ok(leader, 's2 or s3 took over');
    group.node(leader).propose('y1');
    group.settle();
    group.heal();
    group.tick(3 * E);
    assert.deepEqual(group.logOf('s1'), group.logOf(leader), 'the logs agree again');
    for (const [index, term] of cut) assert.notEqual(group.logOf('s1').find(([i]) => i === index)?.[1], term, `entry ${index} was replaced`);
    assert.deepEqual(group.commands('s1'), ['x1', 'y1']);
    assert.deepEqual(group.commands(leader), ['x1', 'y1']);
  });

  it('commits an earlier term’s entry only through an entry of the current term (Figure 8)', () => {
    const group = new RaftGroup({ voters: names(5), seed: 12, raft: { maxEntriesPerAppend: 1 } });
    group.elect('s1');
    // (a) s1 writes A at index 2 and only s2 gets it; s1 crashes.
    group.filter = (m) => (m.from === 's1' && m.to === 's2') || (m.from === 's2' && m.to === 's1');
    group.node('s1').propose('A');
    group.settle();
    assert.deepEqual(group.logOf('s2').at(-1), [2, 1]);
    group.crash('s1');
    // (b) s5 wins term 2 with s3 and s4, appends its noop at index 2 and crashes before sending it.
    group.heal();
    group.tick(E, ['s3', 's4']);
    group.filter = (m) => !(m.from === 's5' && m.type === 'append');
    group.node('s5').campaign();
    group.settle();
    assert.equal(group.node('s5').status().role, 'leader');
    assert.deepEqual(group.logOf('s5').at(-1), [2, 2]);
    group.crash('s5');
    // (c) s1 restarts and wins term 3; its noop (index 3) is held back, A reaches a majority.
    group.heal();
    group.start('s1');
    group.filter = (m) => m.type !== 'append' || m.entries.every((entry) => entry.index < 3);
    group.node('s1').campaign();
    group.settle();
    group.node('s1').campaign();
    group.settle();
    assert.equal(group.node('s1').status().role, 'leader');
    group.tick(2, ['s1']);
    const holders = ['s1', 's2', 's3', 's4'].filter((id) => group.logOf(id).some(([i, t]) => i === 2 && t === 1));
    assert.ok(holders.length >= 3, `A is on a majority: ${holders.join(',')}`);
    assert.equal(group.node('s1').status().commit, 1, 'A is not committed by counting');
    // (d) s1 crashes; s5, whose index 2 is of a later term, can still win and overwrite A.
    group.crash('s1');
    group.heal();
    group.start('s5');
    group.filter = (m) => m.type !== 'vote' || m.from === 's5';
    group.tick(E, ['s2', 's3', 's4']);
    group.node('s5').campaign();
    group.settle();
    group.node('s5').campaign();
    group.settle();
    assert.equal(group.node('s5').status().role, 'leader');
    group.tick(3, ['s5']);
    assert.deepEqual(group.logOf('s2').find(([i]) => i === 2), [2, 2], 'A was overwritten');
    for (const id of group.ids) assert.ok(!group.commands(id).includes('A'), `${id} never applied A`);
  });

  it('pipelines appends and catches up a follower that was far behind', () => {
    const group = new RaftGroup({ voters: names(3), seed: 13, raft: { maxEntriesPerAppend: 3, maxInflightAppends: 2 } });
    group.elect('s1');
    group.isolate('s3');
    for (let i = 0; i < 30; i++) group.node('s1').propose(`c${i}`);
    group.settle();
    group.heal();
    group.tick(4);
    const expected = Array.from({ length: 30 }, (_, i) => `c${i}`);
    assert.deepEqual(group.commands('s3'), expected);
    assert.deepEqual(group.logOf('s3'), group.logOf('s1'));
  });

  it('answers a refused append with a hint that skips whole terms', () => {
    const node = new RaftNode({ id: 'f', electionTicks: E, heartbeatTicks: 2, random: seededRandom(1) }, {
      hardState: { term: 3, votedFor: null, commit: 1 },
      snapshot: { index: 0, term: 0, config: { voters: ['f', 'l', 'x'], learners: [] } },
      entries: [1, 2, 2, 2, 2].map((term, i) => ({ index: i + 1, term, type: 'noop' as const })),
      applied: 0,
    });
    node.step({ type: 'append', from: 'l', to: 'f', term: 4, prevIndex: 5, prevTerm: 3, entries: [], commit: 1, round: 1 });
    const reply = node.ready().messages.find((m) => m.type === 'appendReply');
    assert.deepEqual(reply && { success: reply.success, index: reply.index }, { success: false, index: 4 });
    node.step({ type: 'append', from: 'l', to: 'f', term: 4, prevIndex: 5, prevTerm: 1, entries: [], commit: 1, round: 2 });
    const second = node.ready().messages.find((m) => m.type === 'appendReply');
    assert.deepEqual(second && { success: second.success, index: second.index }, { success: false, index: 1 }, 'entries of term 2 cannot match a leader whose term at 5 is 1');
  });
});

describe('bad input from the network', () => {
  it('ignores malformed messages and messages for someone else, without throwing', () => {
    const group = new RaftGroup({ voters: names(3), seed: 21 });
    group.elect('s1');
    group.settle();
    const node = group.node('s2');
    const before = node.status();
    const base = { type: 'append', from: 's1', to: 's2', term: before.term, prevIndex: before.lastIndex, prevTerm: before.term, entries: [], commit: 0, round: 9 };
    const garbage: unknown[] = [
      null,
      42,
      'append',
      {},
      { ...base, to: 's3' },
      { ...base, from: 's2' },
      { ...base, term: -1 },
      { ...base, term: 1.5 },
      { ...base, type: 'gossip' },
      { ...base, entries: 'x' },
      { ...base, entries: [{ index: before.lastIndex + 2, term: before.term, type: 'noop' }] },
      { ...base, entries: [{ index: before.lastIndex + 1, term: before.term + 1, type: 'noop' }] },
      { ...base, entries: [{ index: before.lastIndex + 1, term: before.term, type: 'config', config: { voters: 's1' } }] },
      { ...base, entries: [{ index: before.lastIndex + 1, term: before.term, type: 'mystery' }] },
      { ...base, round: undefined },
      { type: 'vote', from: 's3', to: 's2', term: before.term + 1, lastIndex: 'high', lastTerm: 1, preVote: false, transfer: false },
      { type: 'voteReply', from: 's3', to: 's2', term: before.term, granted: 'yes', preVote: false },
      { type: 'appendReply', from: 's3', to: 's2', term: before.term, success: true, index: -4, round: 1 },
    ];
    for (const message of garbage) assert.doesNotThrow(() => node.step(message as RaftMessage));
    assert.equal(node.hasReady(), false, 'nothing to persist, send or apply');
    assert.deepEqual(node.status(), before);
  });

  it('ignores an append that would cut committed entries, and an answer claiming entries the leader lacks', () => {
    const group = new RaftGroup({ voters: names(3), seed: 22 });
    const term = group.elect('s1');
    group.node('s1').propose('x');
    group.tick(2);
    const follower = group.node('s2');
    const { commit } = follower.status();
    follower.step({ type: 'append', from: 's1', to: 's2', term, prevIndex: commit - 1, prevTerm: term, entries: [{ index: commit, term: term + 0, type: 'command', command: 'forged' }], commit, round: 1 });
    group.process('s2');
    assert.ok(!group.logOf('s2').some(([index, t]) => index === commit && t !== term));
    const leader = group.node('s1');
    leader.step({ type: 'appendReply', from: 's2', to: 's1', term, success: true, index: 10_000, round: 1 });
    assert.ok(leader.status().commit <= leader.status().lastIndex);
    assert.ok(leader.status().peers.every((p) => p.match <= leader.status().lastIndex));
  });
});

describe('restart and refusals', () => {
  it('restarts from its disk: term, vote, log and commit come back and it catches up', () => {
    const group = new RaftGroup({ voters: names(3), seed: 31 });
    group.elect('s1');
    for (const c of ['a', 'b', 'c']) group.node('s1').propose(c);
    group.tick(2);
    const before = group.node('s2').status();
    const disk = structuredClone(group.disks.get('s2'));
    group.crash('s2');
    group.node('s1').propose('d');
    group.settle();
    group.start('s2');
    const after = group.node('s2').status();
    assert.deepEqual([after.term, after.lastIndex, after.commit], [before.term, before.lastIndex, before.commit]);
    assert.equal(group.disks.get('s2')?.hardState.votedFor, disk?.hardState.votedFor);
    group.tick(3);
    assert.deepEqual(group.commands('s2'), ['a', 'b', 'c', 'd'], 'the host applies again from its snapshot (empty), then the new entry');
  });

  it('refuses proposals on a follower, naming the leader', () => {
    const group = new RaftGroup({ voters: names(3), seed: 32 });
    group.elect('s1');
    try {
      group.node('s2').propose('x');
      assert.fail('a follower took a proposal');
    } catch (err) {
      assert.ok(err instanceof ShoalError);
      assert.equal(err.code, 'UNAVAILABLE');
      assert.deepEqual(err.details, { notLeader: true, leader: 's1', sent: false });
    }
  });

});
