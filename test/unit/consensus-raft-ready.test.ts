/**
 * The Ready contract from the replica's side: what is handed out to persist, to apply and to
 * report, and when; what counts as persisted; options checked; the same inputs giving the
 * same outputs.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RaftNode } from '../../src/consensus/index.ts';
import { seededRandom, ShoalError } from '../../src/core/index.ts';
import { RaftGroup } from '../support/raft-group.ts';

const E = 10;
const names = (n: number) => Array.from({ length: n }, (_, i) => `s${i + 1}`);

describe('the Ready contract', () => {
  it('hands an entry out to apply only after an earlier Ready had it persisted', () => {
    const node = new RaftNode({ id: 'solo', electionTicks: E, heartbeatTicks: 2, random: seededRandom(2) }, {
      hardState: { term: 0, votedFor: null, commit: 0 },
      snapshot: { index: 0, term: 0, config: { voters: ['solo'], learners: [] } },
      entries: [],
      applied: 0,
    });
    node.campaign();
    const first = node.ready();
    assert.equal(first.status?.role, 'leader');
    assert.deepEqual(first.hardState, { term: 1, votedFor: 'solo', commit: 0 });
    assert.deepEqual(first.entries.map((e) => e.type), ['noop']);
    assert.deepEqual(first.committed, [], 'not persisted yet');
    node.advance(first);
    const second = node.ready();
    assert.deepEqual(second.committed.map((e) => e.index), [1]);
    assert.equal(second.hardState?.commit, 1);
    assert.equal(second.status, undefined, 'status only when role, term or leader changed');
    node.advance(second);
    const { index } = node.propose('x');
    const third = node.ready();
    assert.deepEqual([third.entries.map((e) => e.index), third.committed, third.hardState], [[index], [], undefined]);
    node.advance(third);
    assert.deepEqual(node.ready().committed.map((e) => e.index), [index]);
    assert.equal(node.hasReady(), false);
  });

  it('has a follower apply an entry only after the Ready that carried it was advanced', () => {
    const node = new RaftNode({ id: 'f', electionTicks: E, heartbeatTicks: 2, random: seededRandom(3) }, {
      hardState: { term: 1, votedFor: null, commit: 0 },
      snapshot: { index: 0, term: 0, config: { voters: ['f', 'l', 'x'], learners: [] } },
      entries: [],
      applied: 0,
    });
    node.step({ type: 'append', from: 'l', to: 'f', term: 1, prevIndex: 0, prevTerm: 0, entries: [{ index: 1, term: 1, type: 'command', command: 'x' }], commit: 1, round: 1 });
    const first = node.ready();
    assert.deepEqual([first.entries.length, first.committed.length, first.hardState?.commit], [1, 0, 1], 'known committed, not yet on disk here');
    node.advance(first);
    assert.deepEqual(node.ready().committed.map((e) => e.index), [1]);
  });

  it('has a leader count its own log for commit only once advance() says it is persisted', () => {
    const group = new RaftGroup({ voters: names(3), seed: 34 });
    group.elect('s1');
    group.isolate('s3');
    const leader = group.node('s1');
    const { index } = leader.propose('x');
    const ready = leader.ready();
    group.queue.push(...ready.messages);
    group.deliver();
    group.deliver();
    assert.ok(leader.status().peers.some((p) => p.id === 's2' && p.match === index), 's2 answered');
    assert.equal(leader.status().commit, index - 1, 's2 has it, the leader has not said it has');
    leader.advance(ready);
    assert.equal(leader.status().commit, index);
  });

  it('checks its options and boot state', () => {
    const boot = { hardState: { term: 0, votedFor: null, commit: 0 }, snapshot: { index: 0, term: 0, config: { voters: ['a'], learners: [] } }, entries: [], applied: 0 };
    const options = { id: 'a', electionTicks: E, heartbeatTicks: 2, random: seededRandom(1) };
    const invalid = (err: unknown) => err instanceof ShoalError && err.code === 'VALIDATION';
    assert.throws(() => new RaftNode({ ...options, heartbeatTicks: E }, boot), invalid);
    assert.throws(() => new RaftNode({ ...options, electionTicks: 1, heartbeatTicks: 1 }, boot), invalid);
    assert.throws(() => new RaftNode({ ...options, id: '' }, boot), invalid);
    assert.throws(() => new RaftNode(options, { ...boot, entries: [{ index: 2, term: 1, type: 'noop' }] }), invalid);
    assert.doesNotThrow(() => new RaftNode(options, boot));
  });

  it('gives the same outputs for the same inputs', () => {
    const run = () => {
      const group = new RaftGroup({ voters: names(5), seed: 33 });
      const sent: string[] = [];
      const filter = group.filter;
      group.filter = (m) => (sent.push(JSON.stringify(m)), filter(m));
      group.elect('s1');
      group.node('s1').propose('x');
      group.tick(E);
      return sent;
    };
    const first = run();
    assert.ok(first.length > 20);
    assert.deepEqual(run(), first);
  });
});
