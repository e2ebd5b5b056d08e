/**
 * A follower that lost its log (its store deleted or moved aside as damaged, the replica back
 * empty) while the same leader led on: the leader must send it the log again, or a copy of its
 * state, instead of probing for ever at the index the follower had acknowledged before.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRandom } from '../../src/core/index.ts';
import { RaftNode, type RaftBoot, type RaftMessage, type SnapshotMeta } from '../../src/consensus/index.ts';

const IDS = ['a', 'b', 'c'];
const options = (id: string) => ({ id, electionTicks: 10, heartbeatTicks: 2, random: seededRandom(IDS.indexOf(id) + 1), maxEntriesPerAppend: 4 });
const founded: RaftBoot = { hardState: { term: 0, votedFor: null, commit: 0 }, snapshot: { index: 0, term: 0, config: { voters: IDS, learners: [] } }, entries: [], applied: 0 };
/** What a replica whose store came up empty boots with: nothing, not even a config. */
const empty: RaftBoot = { hardState: { term: 0, votedFor: null, commit: 0 }, snapshot: { index: 0, term: 0, config: { voters: [], learners: [] } }, entries: [], applied: 0 };

/** Three replicas on a lossless network that the test steps by hand; hosts persist at once. */
class Group {
  readonly nodes = new Map(IDS.map((id) => [id, new RaftNode(options(id), founded)]));
  /** Snapshots leaders asked their host to send. */
  readonly snapshots: Array<{ from: string; to: string; meta: SnapshotMeta }> = [];
  #mail: RaftMessage[] = [];

  node(id: string): RaftNode {
    return this.nodes.get(id)!;
  }

  /** Drains every Ready and delivers every message until nothing moves, or for 100 exchanges (a pair that keeps answering each other). */
  settle(): void {
    for (let round = 0; round < 100; round++) {
      for (const [id, node] of this.nodes) {
        while (node.hasReady()) {
          const ready = node.ready();
          this.#mail.push(...ready.messages);
          for (const s of ready.snapshots) this.snapshots.push({ from: id, ...s });
          node.advance(ready);
        }
      }
      if (this.#mail.length === 0) return;
      const mail = this.#mail;
      this.#mail = [];
      for (const m of mail) this.nodes.get(m.to)?.step(m);
    }
  }

  tick(times: number): void {
    for (let i = 0; i < times; i++) {
      for (const node of this.nodes.values()) node.tick();
      this.settle();
    }
  }
}

function leadWithEntries(group: Group, count: number): RaftNode {
  const leader = group.node('a');
  leader.campaign();
  group.settle();
  assert.equal(leader.status().role, 'leader');
  for (let i = 0; i < count; i++) leader.propose({ n: i });
  // A heartbeat tells the followers the new commit index.
  group.tick(2);
  assert.equal(group.node('c').status().commit, leader.status().lastIndex, 'c has the whole log');
  return leader;
}

describe('RaftNode: a follower that lost its log under the same leader', () => {
  it('is sent the log again from the start', () => {
    const group = new Group();
    const leader = leadWithEntries(group, 20);
    group.nodes.set('c', new RaftNode(options('c'), empty));
    group.tick(10);
    const c = group.node('c').status();
    assert.equal(leader.status().role, 'leader', 'the leader led throughout');
    assert.equal(c.lastIndex, leader.status().lastIndex, 'c holds the log again');
    assert.equal(c.commit, leader.status().commit);
  });

  it('is sent a copy when the log it needs is compacted away', () => {
    const group = new Group();
    const leader = leadWithEntries(group, 20);
    leader.compact(leader.status().applied);
    group.nodes.set('c', new RaftNode(options('c'), empty));
    group.tick(10);
    assert.ok(
      group.snapshots.some((s) => s.from === 'a' && s.to === 'c' && s.meta.index === leader.status().applied),
      `the leader asked for a copy for c: ${JSON.stringify(group.snapshots)}`,
    );
  });
});
