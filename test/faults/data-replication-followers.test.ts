/**
 * Followers in trouble on a three-node loopback cluster with three replicas per shard:
 * - one slowed down: the shards it follows keep acknowledging writes (a majority does not wait
 *   for it), and it catches up once the fault clears;
 * - one killed -9 and its shard store deleted, or overwritten with garbage: restarted by the
 *   supervisor, it is rebuilt from a copy of its leader (a damaged file is moved aside first)
 *   and holds the leader's documents again.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect, startCluster, type ClusterConnection, type ClusterHandle } from '../../src/cluster/index.ts';
import { documentRegisters, NodeFaults } from '../../src/cluster/chaos/index.ts';
import { CHAOS_COLLECTION, chaosCollection, createDataClient, placementOf, slotOf, type DataClient, type ShardReplication } from '../../src/data/index.ts';
import { freePortBase, isAlive, killLeftovers, removeDir, tempClusterDir } from '../support/cluster-harness.ts';
import { records } from '../support/data-cluster-config.ts';
import { eventually } from '../support/eventually.ts';
import { RegisterRun } from '../support/register-run.ts';
import { fullyReplicated, keysOnShards, leaderCommit, readOnReplicaWhenLed, replicaOf, shardMap } from '../support/replica-watch.ts';

const NODES = 3;
const NODE_IDS = Array.from({ length: NODES }, (_, i) => `node-${i + 1}`);
const SLOW_MS = 100;

describe('data replication: slow and broken followers', { timeout: 300_000 }, () => {
  let dir: string;
  let cluster: ClusterHandle;
  let connection: ClusterConnection;
  let client: DataClient;
  const pids = new Set<number>();

  before(async () => {
    dir = await tempClusterDir();
    cluster = await startCluster({ nodes: NODES, gateways: 1, dir, port: await freePortBase(NODES + 1), config: join(import.meta.dirname, '../support/data-cluster-config.ts'), stopGraceMs: 10_000 });
    const secret = (await readFile(join(dir, 'secret'), 'utf8')).trim();
    connection = await connect({ controlUrl: cluster.controlUrl, secret, clientId: 'followers-test' });
    client = await createDataClient(connection, { collections: [records, chaosCollection] });
  });

  after(async () => {
    client?.close();
    await connection?.close().catch(() => undefined);
    for (const p of (await cluster?.status().catch(() => undefined))?.processes ?? []) if (p.pid) pids.add(p.pid);
    await cluster?.stop().catch(() => undefined);
    killLeftovers(pids);
    await removeDir(dir);
  });

  const caller = () => connection.caller;
  const shardOf = (placement: string, slot: number) => client.router.maps.map.shardOf(placement, slot);
  const shardOfKey = (key: string) => shardOf(placementOf(undefined), slotOf(key));

  async function settledShards(): Promise<ShardReplication[]> {
    return eventually(async () => {
      const { shards } = await shardMap(caller());
      return fullyReplicated(shards, NODES, NODES) && shards.sort((a, b) => a.id - b.id);
    }, { message: 'every shard led and fully replicated', timeoutMs: 60_000, intervalMs: 250 });
  }

  /** Waits until `node`'s replica of each shard has applied what its leader has committed now, and is counted in sync. */
  async function caughtUp(node: string, shardIds: readonly number[]): Promise<void> {
    for (const id of shardIds) {
      const { commit } = await leaderCommit(caller(), id);
      await eventually(async () => ((await replicaOf(caller(), node, id))?.applied ?? 0) >= commit, { message: `${node}'s replica of shard ${id} applied to ${commit}`, timeoutMs: 60_000, intervalMs: 200 });
    }
    await eventually(async () => {
      const { shards } = await shardMap(caller());
      return shardIds.every((id) => {
        const shard = shards.find((s) => s.id === id);
        return shard && !shard.underReplicated && shard.inSync.includes(node);
      });
    }, { message: `shards ${shardIds} fully replicated with ${node} in sync`, timeoutMs: 60_000, intervalMs: 250 });
  }

  /** Each key as `node`'s replica holds it equals its leader's copy. */
  async function sameAsLeaders(node: string, collection: string, keys: readonly string[]): Promise<void> {
    const leaders = new Map<number, string>();
    for (const shard of new Set(keys.map(shardOfKey))) leaders.set(shard!, (await leaderCommit(caller(), shard!)).leader);
    const version = client.router.maps.version;
    for (const key of keys) {
      const leader = leaders.get(shardOfKey(key)!)!;
      const [mine, theirs] = await Promise.all([readOnReplicaWhenLed(caller(), node, collection, key, version), readOnReplicaWhenLed(caller(), leader, collection, key, version)]);
      assert.ok(theirs !== null, `${key} is on its leader ${leader}`);
      assert.deepEqual(mine && { version: mine.version, doc: mine.doc }, { version: theirs.version, doc: theirs.doc }, `${key} on ${node} and on its leader ${leader}`);
    }
  }

  it('keeps acknowledging writes while a follower is slow, and the follower catches up after', async () => {
    const shards = await settledShards();
    // The slow node follows two shards and leads one: the workload runs on the two.
    const slow = NODE_IDS[NODES - 1];
    const followed = shards.filter((s) => s.leader !== slow).map((s) => s.id);
    assert.ok(followed.length > 0, `${slow} follows some shard`);
    const run = new RegisterRun({
      store: documentRegisters(client.collection(chaosCollection), client.router),
      keys: (g) => keysOnShards(shardOf, new Set(followed), 8, `slow-g${g}`),
      clients: 8,
      seed: 21,
    });
    const faults = new NodeFaults(connection);
    let maxLag = 0;
    run.start();
    try {
      await eventually(() => run.acknowledgedWrites(0, Infinity) >= 50, { message: 'the workload under way', timeoutMs: 30_000, intervalMs: 50 });
      // This kernel has no netem qdisc (tc delay), so the latency goes into the transport: what
      // the slow node sends and the answers it waits for, and what its peers send it.
      await faults.slow(slow, { latencyMs: SLOW_MS });
      for (const peer of NODE_IDS.filter((n) => n !== slow)) await faults.slow(peer, { latencyMs: SLOW_MS, from: slow });
      const slowedAt = run.now();
      await eventually(async () => {
        const { shards: now } = await shardMap(caller());
        for (const shard of now.filter((s) => followed.includes(s.id))) maxLag = Math.max(maxLag, shard.followers.find((f) => f.node === slow)?.lagEntries ?? 0);
        return run.acknowledgedWrites(slowedAt, Infinity) >= 200;
      }, { message: `writes acknowledged while ${slow} is slow`, timeoutMs: 60_000, intervalMs: 250 });
      const healedAt = run.now();
      const whileSlow = run.acknowledgedWrites(slowedAt, healedAt);
      const replicasWhileSlow = (await shardMap(caller())).shards;
      for (const node of NODE_IDS) await faults.heal(node);

      await caughtUp(slow, followed);
      const result = await run.finish();
      process.stdout.write(`# slow follower ${slow}: ${JSON.stringify({ whileSlow, maxLagEntries: maxLag, operations: result.operations, linearizable: result.verdict.linearizable })}\n`);
      assert.ok(whileSlow > 0, 'writes were acknowledged while the follower was slow');
      // Slow is not gone: it stays a voting member of every shard it follows.
      for (const shard of replicasWhileSlow.filter((s) => followed.includes(s.id))) {
        assert.ok(shard.replicas.includes(slow) && shard.followers.find((f) => f.node === slow)?.voter, `${slow} still votes in shard ${shard.id}`);
      }
      assert.deepEqual(result.unread, [], 'every key read back');
      assert.deepEqual(result.verdict.lostWrites, [], 'no acknowledged write lost');
      assert.deepEqual(result.verdict.violations, [], 'the history is linearizable');
      assert.equal(result.verdict.linearizable, true, `undecided keys: ${result.verdict.unknownKeys}`);
      await caughtUp(slow, followed);
      await sameAsLeaders(slow, CHAOS_COLLECTION, run.keys());
    } finally {
      await run.stop();
      for (const node of NODE_IDS) await faults.heal(node).catch(() => undefined);
    }
  });

  /**
   * Kills a follower of the `pick`-th shard, does `damage` to its store of that shard while it
   * is down (before the supervisor restarts it), writes more meanwhile, and checks it comes
   * back rebuilt with the leader's documents. Answers the node and shard, for what else the case checks.
   */
  async function breakFollower(name: string, pick: number, damage: (file: string) => void): Promise<{ node: string; shard: number; file: string; pid: number }> {
    const shards = await settledShards();
    const target = shards[pick % shards.length];
    const node = target.followers[0].node;
    const file = join(dir, 'data', node, `shard-${target.id}.db`);
    assert.ok(existsSync(file), `${file} exists`);
    const docs = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => ({ key: `${name}-${from + i}`, value: from + i, pad: 'x'.repeat(200) }));
    const put = async (list: ReturnType<typeof docs>) => {
      for (let i = 0; i < list.length; i += 50) await Promise.all(list.slice(i, i + 50).map((doc) => client.collection(records).put(doc)));
    };
    await put(docs(0, 300));

    const before = (await cluster.status()).processes.find((p) => p.id === node)!;
    process.kill(before.pid!, 'SIGKILL');
    // The supervisor waits at least half a second before restarting a crashed process: the
    // store is damaged in that gap, as soon as the process is gone.
    await eventually(() => !isAlive(before.pid!), { message: `${node} (pid ${before.pid}) gone`, timeoutMs: 10_000, intervalMs: 2 });
    damage(file);
    const during = (await cluster.status()).processes.find((p) => p.id === node)!;
    assert.equal(during.pid, null, `${node} was not running yet when its store was damaged`);

    // The shard keeps taking writes on its two other replicas meanwhile.
    await put(docs(300, 400));
    const restarted = await eventually(async () => {
      const now = (await cluster.status()).processes.find((p) => p.id === node)!;
      return now.pid !== null && now.pid !== before.pid && now.health === 'healthy' && now;
    }, { message: `${node} restarted`, timeoutMs: 60_000, intervalMs: 200 });

    // Its other replicas came back from their own stores; every one must be caught up before comparing.
    await caughtUp(node, shards.map((s) => s.id));
    const keys = docs(0, 400).map((d) => d.key);
    await sameAsLeaders(node, records.name, keys);
    // And they are the documents written.
    const version = client.router.maps.version;
    for (const doc of docs(0, 400).filter((d) => shardOfKey(d.key) === target.id)) {
      assert.deepEqual((await readOnReplicaWhenLed(caller(), node, records.name, doc.key, version))?.doc, doc, `${doc.key} on ${node}`);
    }
    assert.ok(
      logLines(node, restarted.pid!).some((line) => line.msg === 'replica rebuilt from a copy of the leader' && line.shard === target.id),
      `${node}'s log tells its replica of shard ${target.id} was rebuilt from a copy after the restart`,
    );
    return { node, shard: target.id, file, pid: restarted.pid! };
  }

  /** The lines `node`'s process `pid` logged (one node's log file holds every restart's). */
  function logLines(node: string, pid: number): Array<Record<string, unknown>> {
    return readFileSync(join(dir, 'logs', `${node}.log`), 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((line) => line.pid === pid);
  }

  it('rebuilds a follower whose shard store was deleted from a copy of its leader', async () => {
    await breakFollower('deleted', 0, (file) => {
      for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
    });
  });

  it('moves a corrupted shard store aside and rebuilds the follower from a copy of its leader', async () => {
    const { node, shard, file, pid } = await breakFollower('corrupted', 1, (file) => {
      for (const suffix of ['', '-wal', '-shm']) if (existsSync(file + suffix)) writeFileSync(file + suffix, randomBytes(64 * 1024));
    });
    const files = readdirSync(join(dir, 'data', node));
    const aside = files.find((f) => new RegExp(`^shard-${shard}\\.db\\.damaged-\\d+$`).test(f));
    assert.ok(aside !== undefined, `the damaged store is kept beside ${file}: ${files}`);
    const damaged = logLines(node, pid).filter((line) => line.level === 'error' && line.shard === shard && String(line.msg).startsWith('shard store is damaged'));
    assert.equal(damaged.length, 1, `${node} logged one error on the damaged store`);
    assert.equal(damaged[0].movedTo, join(dir, 'data', node, aside), 'naming where it went');
  });
});
