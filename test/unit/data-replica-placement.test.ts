import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RaftStatus } from '../../src/consensus/index.ts';
import { ShardMap, encodeRanges } from '../../src/data/map/shard-map.ts';
import { planMoves, reshape, type DataNodeInfo } from '../../src/data/rebalance/plan.ts';
import { nextReplicaChange } from '../../src/data/replica/reconcile.ts';
import { SLOT_COUNT } from '../../src/data/types.ts';

const node = (id: string, extra: Partial<DataNodeInfo> = {}): DataNodeInfo => ({ id, groups: [], draining: false, ...extra });

/** Runs reshape until the map stops changing, as the rebalancer's passes do. */
function settle(map: ShardMap, nodes: DataNodeInfo[], dead = new Set<string>(), replicas = 3): ShardMap {
  for (let pass = 0; pass < 10; pass++) {
    const shape = reshape(map, nodes, dead, replicas);
    if (!shape.changed) return map;
    map = new ShardMap(shape.data, map.version + 1);
  }
  throw new Error('reshape did not settle');
}

describe('replica placement', () => {
  it('gives every shard the replication factor on distinct nodes, each node homing one shard', () => {
    const map = settle(ShardMap.empty(), [node('n1'), node('n2'), node('n3')]);
    const shards = Object.values(map.data.shards);
    assert.equal(shards.length, 3);
    for (const s of shards) assert.equal(new Set(s.replicas).size, 3);
    assert.deepEqual(shards.map((s) => s.replicas[0]).sort(), ['n1', 'n2', 'n3']);
    const owned = shards.reduce((n, s) => n + map.slotsOfShard(s.id).length, 0);
    assert.equal(owned, SLOT_COUNT);
  });

  it('caps the factor by the nodes there are, and fills up as nodes join', () => {
    let map = settle(ShardMap.empty(), [node('n1')]);
    assert.deepEqual(Object.values(map.data.shards).map((s) => s.replicas), [['n1']]);
    map = settle(map, [node('n1'), node('n2')]);
    for (const s of Object.values(map.data.shards)) assert.equal(s.replicas.length, 2);
    map = settle(map, [node('n1'), node('n2'), node('n3'), node('n4')]);
    for (const s of Object.values(map.data.shards)) assert.equal(s.replicas.length, 3);
  });

  it('spreads a shard over distinct zones while there are enough', () => {
    const nodes = [node('n1', { zone: 'a' }), node('n2', { zone: 'a' }), node('n3', { zone: 'b' }), node('n4', { zone: 'c' }), node('n5', { zone: 'b' }), node('n6', { zone: 'c' })];
    const map = settle(ShardMap.empty(), nodes);
    const zoneOf = new Map(nodes.map((n) => [n.id, n.zone]));
    for (const s of Object.values(map.data.shards)) assert.equal(new Set(s.replicas.map((id) => zoneOf.get(id))).size, 3, `shard ${s.id}: ${s.replicas}`);
  });

  it('moves nothing while a node is missing for less than the replica timeout', () => {
    const map = settle(ShardMap.empty(), [node('n1'), node('n2'), node('n3')]);
    const nodes = [node('n1'), node('n2'), node('n3', { missing: true })];
    const shape = reshape(map, nodes, new Set(), 3);
    assert.equal(shape.changed, false);
    assert.deepEqual(planMoves(map, nodes, 256), []);
  });

  it('replaces a node gone for good in every replica set, keeping the shard and its slots', () => {
    const start = settle(ShardMap.empty(), [node('n1'), node('n2'), node('n3'), node('n4')]);
    const before = new Map(Object.values(start.data.shards).map((s) => [s.id, start.slotsOfShard(s.id).length]));
    const map = settle(start, [node('n1'), node('n2'), node('n3')], new Set(['n4']));
    for (const s of Object.values(map.data.shards)) {
      assert.ok(!s.replicas.includes('n4'));
      assert.equal(s.replicas.length, 3);
      assert.equal(map.slotsOfShard(s.id).length, before.get(s.id), 'no slot moved: the surviving replicas keep the documents');
    }
  });

  it('takes a draining node out of every other replica set, and its own shard once its slots moved away', () => {
    const start = settle(ShardMap.empty(), [node('n1'), node('n2'), node('n3'), node('n4')]);
    const leaving = [node('n1'), node('n2'), node('n3'), node('n4', { draining: true })];
    const map = settle(start, leaving);
    const home = Object.values(map.data.shards).find((s) => s.replicas[0] === 'n4')!;
    assert.equal(home.replicas.length, 3, 'its own shard keeps its factor while it empties');
    for (const s of Object.values(map.data.shards)) {
      if (s !== home) assert.ok(!s.replicas.includes('n4'), `shard ${s.id}: ${s.replicas}`);
      assert.equal(s.replicas.length, 3);
    }
    const moves = planMoves(map, leaving, 4096);
    assert.ok(moves.length > 0 && moves.every((m) => m.fromShard === home.id), 'only the leaving node\'s shard gives slots away');
    // Once the moves are done (all its slots given to the others), the shard goes.
    const table = map.table('*');
    const others = Object.values(map.data.shards).filter((s) => s !== home).map((s) => s.id);
    let next = 0;
    for (let slot = 0; slot < SLOT_COUNT; slot++) if (table[slot] === home.id) table[slot] = others[next++ % others.length];
    const emptied = new ShardMap({ ...map.data, placements: { '*': encodeRanges(table) } }, map.version + 1);
    const final = settle(emptied, leaving);
    assert.equal(final.shard(home.id), undefined);
    for (const s of Object.values(final.data.shards)) assert.ok(!s.replicas.includes('n4'));
  });

  it('loses a shard only when every replica is gone for good', () => {
    const start = settle(ShardMap.empty(), [node('n1')], new Set(), 1);
    const shape = reshape(start, [node('n2')], new Set(['n1']), 1);
    assert.equal(shape.lost.length, 1);
  });
});

function leaderStatus(voters: string[], learners: string[], peers: Array<{ id: string; match: number; silentTicks?: number }>, lastIndex = 100): RaftStatus {
  return {
    id: 'n1',
    role: 'leader',
    term: 3,
    leader: 'n1',
    commit: lastIndex,
    applied: lastIndex,
    lastIndex,
    config: { voters, learners },
    peers: peers.map((p) => ({ id: p.id, voter: voters.includes(p.id), match: p.match, silentTicks: p.silentTicks ?? 0, snapshotting: false })),
  };
}

describe('replica set changes by the leader', () => {
  const options = { electionTicks: 10 };

  it('adds a missing replica as a learner first', () => {
    const change = nextReplicaChange(leaderStatus(['n1', 'n2'], [], [{ id: 'n2', match: 100 }]), ['n1', 'n2', 'n3'], options);
    assert.deepEqual(change?.kind === 'config' && change.config, { voters: ['n1', 'n2'], learners: ['n3'] });
  });

  it('promotes a learner only once it has caught up', () => {
    const behind = leaderStatus(['n1', 'n2'], ['n3'], [{ id: 'n2', match: 100 }, { id: 'n3', match: 5 }]);
    assert.equal(nextReplicaChange(behind, ['n1', 'n2', 'n3'], options), undefined);
    const caughtUp = leaderStatus(['n1', 'n2'], ['n3'], [{ id: 'n2', match: 100 }, { id: 'n3', match: 99 }]);
    const change = nextReplicaChange(caughtUp, ['n1', 'n2', 'n3'], options);
    assert.deepEqual(change?.kind === 'config' && change.config, { voters: ['n1', 'n2', 'n3'], learners: [] });
  });

  it('removes a dropped voter only after its replacement votes', () => {
    const replacing = leaderStatus(['n1', 'n2', 'n4'], ['n3'], [{ id: 'n2', match: 100 }, { id: 'n3', match: 10 }, { id: 'n4', match: 0, silentTicks: 99 }]);
    assert.equal(nextReplicaChange(replacing, ['n1', 'n2', 'n3'], options), undefined, 'n3 is still catching up: n4 stays a voter');
    const replaced = leaderStatus(['n1', 'n2', 'n4', 'n3'], [], [{ id: 'n2', match: 100 }, { id: 'n3', match: 100 }, { id: 'n4', match: 0, silentTicks: 99 }]);
    const change = nextReplicaChange(replaced, ['n1', 'n2', 'n3'], options);
    assert.deepEqual(change?.kind === 'config' && change.config.voters, ['n1', 'n2', 'n3']);
  });

  it('hands leadership away before leaving, and to the preferred replica when it is caught up', () => {
    const leaving = nextReplicaChange(leaderStatus(['n1', 'n2', 'n3'], [], [{ id: 'n2', match: 100 }, { id: 'n3', match: 100 }]), ['n2', 'n3', 'n4'], options);
    assert.equal(leaving?.kind, 'transfer');
    const preferred = nextReplicaChange(leaderStatus(['n1', 'n2', 'n3'], [], [{ id: 'n2', match: 100 }, { id: 'n3', match: 100 }]), ['n2', 'n1', 'n3'], options);
    assert.deepEqual(preferred?.kind === 'transfer' && preferred.to, 'n2');
    const steady = nextReplicaChange(leaderStatus(['n1', 'n2', 'n3'], [], [{ id: 'n2', match: 100 }, { id: 'n3', match: 100 }]), ['n1', 'n2', 'n3'], options);
    assert.equal(steady, undefined);
  });
});
