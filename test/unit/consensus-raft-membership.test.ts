/**
 * Who takes part in a Raft group: learners, single-server configuration changes (in force when
 * appended, reverted when cut), a leader that removes itself, and leadership transfer.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RaftNode } from '../../src/consensus/index.ts';
import { seededRandom, ShoalError } from '../../src/core/index.ts';
import { RaftGroup } from '../support/raft-group.ts';

const E = 10;
const isCode = (code: string) => (err: unknown) => err instanceof ShoalError && err.code === code;

describe('learners', () => {
  it('get the log but count neither for commit nor for quorum', () => {
    const group = new RaftGroup({ voters: ['s1', 's2', 's3'], learners: ['s4'], seed: 41 });
    group.elect('s1');
    group.node('s1').propose('a');
    group.settle();
    assert.deepEqual(group.commands('s4'), ['a'], 'the learner applies what commits');
    const commit = group.node('s1').status().commit;
    group.isolate('s2', 's3');
    const { index } = group.node('s1').propose('b');
    group.settle();
    assert.ok(group.logOf('s4').some(([i]) => i === index), 'the learner has the entry');
    assert.equal(group.node('s1').status().commit, commit, 'a leader and a learner are no majority');
    group.tick(E, ['s1', 's4']);
    assert.equal(group.node('s1').status().role, 'follower', 'answers from a learner do not keep a leader in office');
  });

  it('grant votes that do not count, and never campaign', () => {
    const group = new RaftGroup({ voters: ['s1', 's2', 's3'], learners: ['s4'], seed: 48 });
    group.elect('s1');
    group.node('s1').propose('a');
    group.tick(2);
    assert.deepEqual(group.logOf('s2'), group.logOf('s4'), 'the candidate and the learner hold the same log');
    group.isolate('s1', 's3');
    const term = group.node('s2').status().term;
    group.tick(4 * E, ['s2', 's4']);
    assert.notEqual(group.node('s2').status().role, 'leader', 'a voter and a learner are no majority');
    assert.equal(group.node('s2').status().term, term, 'so its pre-votes never won');
    assert.equal(group.node('s4').status().term, term, 'and the learner never campaigned');
    // A learner asked anyway (by a candidate whose config still lists it as a voter) is not counted.
    group.node('s2').campaign();
    group.node('s2').step({ type: 'voteReply', from: 's4', to: 's2', term: term + 1, granted: true, preVote: true });
    group.process('s2');
    assert.equal(group.node('s2').status().term, term, 'a learner’s grant does not win the pre-vote');
  });
});

describe('configuration changes', () => {
  it('adds a learner, promotes it and removes a voter, one server at a time', () => {
    const group = new RaftGroup({ voters: ['s1', 's2', 's3'], extra: ['s4'], seed: 42 });
    group.elect('s1');
    group.node('s1').propose('a');
    group.node('s1').proposeConfig({ voters: ['s1', 's2', 's3'], learners: ['s4'] });
    group.settle();
    assert.deepEqual(group.commands('s4'), ['a'], 'the new learner caught up');
    assert.deepEqual(group.node('s4').status().config, { voters: ['s1', 's2', 's3'], learners: ['s4'] });
    assert.throws(() => group.node('s1').proposeConfig({ voters: ['s1', 's4'], learners: [] }), isCode('VALIDATION'), 'two voters at once');
    group.node('s1').proposeConfig({ voters: ['s1', 's2', 's3', 's4'], learners: [] });
    group.settle();
    group.node('s1').proposeConfig({ voters: ['s1', 's2', 's4'], learners: [] });
    group.settle();
    for (const id of ['s1', 's2', 's4']) assert.deepEqual(group.node(id).status().config, { voters: ['s1', 's2', 's4'], learners: [] });
    assert.deepEqual(group.node('s1').status().peers.map((p) => p.id).sort(), ['s2', 's4'], 'the leader no longer tracks s3');
    group.isolate('s3', 's2');
    const { index } = group.node('s1').propose('b');
    group.settle();
    assert.ok(group.node('s1').status().commit >= index, 's1 and s4 are a majority of the new voters');
  });

  it('refuses a change while an earlier one is uncommitted, and before the leader commits in its term', () => {
    const group = new RaftGroup({ voters: ['s1', 's2', 's3'], extra: ['s4'], seed: 43 });
    group.elect('s1');
    group.isolate('s2', 's3');
    group.node('s1').proposeConfig({ voters: ['s1', 's2', 's3'], learners: ['s4'] });
    assert.throws(() => group.node('s1').proposeConfig({ voters: ['s1', 's2'], learners: ['s4'] }), isCode('CONFLICT'));
    group.heal();
    group.settle();
    assert.doesNotThrow(() => group.node('s1').proposeConfig({ voters: ['s1', 's2'], learners: ['s4'] }));

    const fresh = new RaftGroup({ voters: ['s1', 's2', 's3'], extra: ['s4'], seed: 43 });
    fresh.filter = (m) => m.type !== 'append' || m.entries.length === 0;
    fresh.elect('s1');
    assert.throws(() => fresh.node('s1').proposeConfig({ voters: ['s1', 's2', 's3'], learners: ['s4'] }), isCode('CONFLICT'), 'its noop is not committed');
    fresh.heal();
    fresh.tick(2);
    assert.doesNotThrow(() => fresh.node('s1').proposeConfig({ voters: ['s1', 's2', 's3'], learners: ['s4'] }));
  });

  it('takes a config entry into force when appended and reverts it when the entry is cut', () => {
    const config = { voters: ['f', 'a', 'b'], learners: [] };
    const node = new RaftNode({ id: 'f', electionTicks: E, heartbeatTicks: 2, random: seededRandom(4) }, {
      hardState: { term: 1, votedFor: null, commit: 1 },
      snapshot: { index: 0, term: 0, config },
      entries: [{ index: 1, term: 1, type: 'noop' }],
      applied: 0,
    });
    const added = { voters: ['f', 'a', 'b'], learners: ['c'] };
    node.step({ type: 'append', from: 'a', to: 'f', term: 1, prevIndex: 1, prevTerm: 1, entries: [{ index: 2, term: 1, type: 'config', config: added }], commit: 1, round: 1 });
    assert.deepEqual(node.status().config, added, 'in force before it commits');
    node.step({ type: 'append', from: 'b', to: 'f', term: 2, prevIndex: 1, prevTerm: 1, entries: [{ index: 2, term: 2, type: 'noop' }], commit: 1, round: 1 });
    assert.deepEqual(node.status().config, config, 'gone with the entry');
  });

  it('has a leader that removed itself step down once the change commits, and never campaign again', () => {
    const group = new RaftGroup({ voters: ['s1', 's2', 's3'], seed: 44 });
    group.elect('s1');
    group.node('s1').proposeConfig({ voters: ['s2', 's3'], learners: [] });
    group.processAll();
    assert.equal(group.node('s1').status().role, 'leader', 'it leads until the change commits');
    group.settle();
    assert.equal(group.node('s1').status().role, 'follower');
    group.tick(4 * E);
    const [leader] = group.leaders();
    assert.ok(leader === 's2' || leader === 's3', `a remaining voter leads (${leader})`);
    const term = group.node('s1').status().term;
    group.isolate('s1');
    group.tick(10 * E, ['s1']);
    assert.equal(group.node('s1').status().term, term, 'the removed replica does not campaign');
  });
});

describe('leadership transfer', () => {
  it('hands leadership to a caught-up voter in the next term', () => {
    const group = new RaftGroup({ voters: ['s1', 's2', 's3'], seed: 45 });
    const term = group.elect('s1');
    group.node('s1').propose('a');
    group.settle();
    group.node('s1').transferLeadership('s2');
    group.settle();
    assert.deepEqual(group.leaders(), ['s2']);
    assert.equal(group.node('s2').status().term, term + 1);
    assert.throws(() => group.node('s1').transferLeadership('s9'), isCode('UNAVAILABLE'), 'only a leader transfers');
  });

  it('brings a lagging target up to date first, refusing proposals meanwhile', () => {
    const group = new RaftGroup({ voters: ['s1', 's2', 's3'], seed: 46 });
    group.elect('s1');
    group.isolate('s3');
    for (const c of ['a', 'b', 'c']) group.node('s1').propose(c);
    group.settle();
    group.heal();
    group.node('s1').transferLeadership('s3');
    try {
      group.node('s1').propose('refused');
      assert.fail('a proposal during a transfer');
    } catch (err) {
      assert.ok(err instanceof ShoalError && err.code === 'UNAVAILABLE');
      assert.deepEqual(err.details, { notLeader: true, leader: null, sent: false, transferringTo: 's3' });
    }
    group.tick(3);
    assert.deepEqual(group.leaders(), ['s3']);
    group.node('s3').propose('d');
    group.settle();
    assert.deepEqual(group.commands('s3'), ['a', 'b', 'c', 'd']);
  });

  it('gives up after electionTicks when the target does not answer', () => {
    const group = new RaftGroup({ voters: ['s1', 's2', 's3'], seed: 47 });
    group.elect('s1');
    group.isolate('s3');
    group.node('s1').transferLeadership('s3');
    group.tick(E - 1, ['s1']);
    assert.throws(() => group.node('s1').propose('x'), isCode('UNAVAILABLE'));
    group.tick(1, ['s1']);
    assert.doesNotThrow(() => group.node('s1').propose('x'));
    assert.throws(() => group.node('s1').transferLeadership('s9'), isCode('VALIDATION'), 'only to a voter');
  });
});
