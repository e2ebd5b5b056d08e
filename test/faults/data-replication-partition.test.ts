/**
 * A shard leader cut off from its majority by the kernel's firewall, on a cluster whose nodes
 * each run in their own network namespace, under a register workload from this process (in the
 * root namespace, where control and the gateway run too). Two ways:
 * - partitioned from everyone (`TestNetwork.partition`): the old leader is out of reach of
 *   peers, clients and control alike;
 * - cut from its two peers only (`TestNetwork.cut`): clients still reach it and keep sending it
 *   writes, which it must never acknowledge, since it cannot commit them.
 * Either way a new leader is elected in a higher term on another node, no term ever has two
 * leaders, the history is linearizable with no acknowledged write lost, and once the network
 * heals the old leader catches up and holds exactly the leader's documents: whatever it took
 * but could not commit is gone.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { connect, startCluster, type ClusterConnection, type ClusterHandle } from '../../src/cluster/index.ts';
import { documentRegisters } from '../../src/cluster/chaos/index.ts';
import { CHAOS_COLLECTION, chaosCollection, createDataClient, placementOf, slotOf, type DataClient } from '../../src/data/index.ts';
import { freePortBase, killLeftovers, removeDir, tempClusterDir } from '../support/cluster-harness.ts';
import { eventually } from '../support/eventually.ts';
import { netnsSkipReason, TestNetwork } from '../support/netns.ts';
import { recordingConnection, RegisterRun, runClock, type AnsweredCall } from '../support/register-run.ts';
import { fullyReplicated, keysOnShards, leaderCommit, LeaderWatch, readOnReplicaWhenLed, replicaOf, shardMap } from '../support/replica-watch.ts';

const skip = await netnsSkipReason();
const NODES = 3;
const NODE_IDS = Array.from({ length: NODES }, (_, i) => `node-${i + 1}`);
/** How long the old leader stays cut off once a new one is acknowledging writes. */
const HOLD_CUT_MS = 4_000;

describe('data replication: a shard leader cut off from its majority by the network', { skip, timeout: 300_000 }, () => {
  let network: TestNetwork;
  let cluster: ClusterHandle | undefined;
  let connection: ClusterConnection | undefined;
  let client: DataClient | undefined;
  let dir = '';
  const pids = new Set<number>();
  const clock = runClock();
  const calls: AnsweredCall[] = [];

  before(async () => {
    network = await TestNetwork.create({ hosts: NODES });
    dir = await tempClusterDir();
    cluster = await startCluster({
      nodes: NODES,
      gateways: 1,
      dir,
      port: await freePortBase(NODES),
      config: join(import.meta.dirname, '../support/data-cluster-config.ts'),
      controlHost: network.bridgeAddress,
      nodeHost: (index) => network.host(index).address,
      spawnPrefix: (id) => (id.startsWith('node-') ? network.execPrefix(network.host(Number(id.slice('node-'.length)))) : []),
      readyTimeoutMs: 60_000,
      stopGraceMs: 5_000,
    });
    const secret = (await readFile(join(dir, 'secret'), 'utf8')).trim();
    // A short call limit: a call into the partition fails within it (as uncertain) instead of holding a client long.
    connection = await connect({ controlUrl: cluster.controlUrl, secret, clientId: 'partition-test', callTimeoutMs: 3_000 });
    client = await createDataClient(recordingConnection(connection, clock, calls), { collections: [chaosCollection] });
  });

  after(async () => {
    // Healed first, so the nodes can stop as they would on a whole network.
    await network?.healAll().catch(() => undefined);
    client?.close();
    await connection?.close().catch(() => undefined);
    for (const p of (await cluster?.status().catch(() => undefined))?.processes ?? []) if (p.pid) pids.add(p.pid);
    await cluster?.stop().catch(() => undefined);
    killLeftovers(pids);
    await network?.close();
    if (dir) await removeDir(dir);
  });

  const caller = () => connection!.caller;
  const hostOf = (node: string) => network.host(Number(node.slice('node-'.length)));
  const shardOfKey = (key: string) => client!.router.maps.map.shardOf(placementOf(undefined), slotOf(key));

  async function settledShards() {
    return eventually(async () => {
      const { shards } = await shardMap(caller());
      return fullyReplicated(shards, NODES, NODES) && shards.sort((a, b) => a.id - b.id);
    }, { message: 'every shard led and fully replicated', timeoutMs: 60_000, intervalMs: 250 });
  }

  /**
   * Runs the workload, isolates the leader of the `pick`-th shard with `isolate`, checks a new
   * leader takes over, heals with `restore`, and checks the old leader catches up; answers what
   * the assertions shared by both cases need.
   */
  async function isolateLeader(name: string, pick: number, isolate: (victim: string) => Promise<void>, restore: (victim: string) => Promise<void>) {
    const shards = await settledShards();
    const target = shards[pick % shards.length];
    const victim = target.leader!;
    const majority = NODE_IDS.filter((n) => n !== victim);
    const others = new Set(shards.map((s) => s.id).filter((id) => id !== target.id));
    const shardOf = (placement: string, slot: number) => client!.router.maps.map.shardOf(placement, slot);
    // Most keys on the isolated leader's shard, a few elsewhere (they must not notice).
    const run = new RegisterRun({
      store: documentRegisters(client!.collection(chaosCollection), client!.router),
      keys: (g) => [...keysOnShards(shardOf, new Set([target.id]), 6, `${name}-g${g}`), ...keysOnShards(shardOf, others, 3, `${name}-g${g}`)],
      clients: 8,
      seed: 11 + pick,
      clock,
    });
    const watch = new LeaderWatch(caller(), NODE_IDS, clock);
    watch.start();
    run.start();
    try {
      await eventually(() => run.acknowledgedWrites(0, Infinity) >= 50, { message: 'the workload under way', timeoutMs: 30_000, intervalMs: 50 });

      await isolate(victim);
      const cutAt = clock();
      const elected = await eventually(async () => {
        const shard = (await shardMap(caller(), majority[0])).shards.find((s) => s.id === target.id);
        return shard && shard.leader !== null && shard.leader !== victim && shard.term > target.term && shard;
      }, { message: `a new leader of shard ${target.id} on ${majority.join(' or ')}`, timeoutMs: 30_000, intervalMs: 200 });
      const electedAt = clock();
      const onTarget = () => new Set(run.keys().filter((k) => shardOfKey(k) === target.id));
      await eventually(() => run.acknowledgedWrites(electedAt, Infinity, onTarget()) >= 20, { message: `writes on shard ${target.id} acknowledged under its new leader`, timeoutMs: 30_000, intervalMs: 50 });
      await sleep(HOLD_CUT_MS);

      await restore(victim);
      const healAt = clock();
      const { commit: commitAtHeal } = await leaderCommit(caller(), target.id, majority[0]);
      // Back in the group: following a leader of a later term, with everything the leader had committed at the heal.
      const caughtUp = await eventually(async () => {
        const replica = await replicaOf(caller(), victim, target.id);
        return replica && replica.role === 'follower' && replica.term >= elected.term && replica.applied >= commitAtHeal && replica;
      }, { message: `${victim}'s replica of shard ${target.id} caught up to commit ${commitAtHeal}`, timeoutMs: 45_000, intervalMs: 200 });
      // The workload goes on across the heal for a little while.
      await sleep(1_500);
      const result = await run.finish();
      await watch.stop();
      return { target, victim, majority, elected, cutAt, healAt, commitAtHeal, caughtUp, run, watch, result };
    } finally {
      await run.stop();
      await watch.stop();
    }
  }

  /** What both cases assert once the network is whole again. */
  async function assertConsistent(outcome: Awaited<ReturnType<typeof isolateLeader>>) {
    const { target, victim, elected, cutAt, healAt, run, watch, result } = outcome;
    const summary = {
      shard: target.id,
      oldLeader: `${victim} (term ${target.term})`,
      newLeader: `${elected.leader} (term ${elected.term})`,
      terms: watch.terms(target.id),
      operations: result.operations,
      linearizable: result.verdict.linearizable,
      lost: result.verdict.lostWrites.length,
    };
    process.stdout.write(`# ${JSON.stringify(summary)}\n`);
    assert.notEqual(elected.leader, victim);
    assert.ok(elected.term > target.term, `new term ${elected.term} after ${target.term}`);
    assert.deepEqual(watch.conflicts(), [], 'no term of any shard had two leaders');
    // Back on the network it had stepped down: it never again claims the term it led before the cut.
    const back = watch.reports({ node: victim, shard: target.id }).filter((r) => r.at > healAt);
    assert.ok(back.length > 0, `${victim} reported after the heal`);
    assert.deepEqual(back.filter((r) => r.role === 'leader' && r.term <= target.term), [], `${victim} leading its old term after the heal`);

    // Nothing the old leader was sent while cut off came back acknowledged by it, whenever the
    // answer came: cut off from its peers it could commit none of it, and after the heal its
    // uncommitted entries give way to the new leader's. (Writes it refused at once count too.)
    const toVictim = calls.filter((c) => c.node === victim && c.sentAt >= cutAt && c.sentAt < healAt);
    assert.deepEqual(toVictim.filter((c) => c.acknowledged > 0), [], `writes ${victim} acknowledged while cut off`);

    assert.deepEqual(result.unread, [], 'every key read back');
    assert.deepEqual(result.verdict.lostWrites, [], 'no acknowledged write lost');
    assert.deepEqual(result.verdict.violations, [], 'the history is linearizable');
    assert.equal(result.verdict.linearizable, true, `undecided keys: ${result.verdict.unknownKeys}`);

    // The old leader's copy of every shard equals its leader's, key by key: nothing it took but
    // could not commit survived. Compared once it has applied what the leader has committed.
    const { shards } = await shardMap(caller());
    const leaders = new Map<number, string>();
    for (const shard of shards) {
      const { leader, commit } = await leaderCommit(caller(), shard.id);
      leaders.set(shard.id, leader);
      await eventually(async () => ((await replicaOf(caller(), victim, shard.id))?.applied ?? 0) >= commit, { message: `${victim} applied shard ${shard.id} to ${commit}`, timeoutMs: 30_000, intervalMs: 200 });
    }
    const version = client!.router.maps.version;
    for (const key of run.keys()) {
      const leader = leaders.get(shardOfKey(key)!)!;
      const [mine, theirs] = await Promise.all([readOnReplicaWhenLed(caller(), victim, CHAOS_COLLECTION, key, version), readOnReplicaWhenLed(caller(), leader, CHAOS_COLLECTION, key, version)]);
      assert.deepEqual(mine && { version: mine.version, doc: mine.doc }, theirs && { version: theirs.version, doc: theirs.doc }, `${key} on ${victim} and on its leader ${leader}`);
      assert.equal((mine?.doc.n as number | undefined) ?? null, result.finalReads.get(key), `${key} on ${victim} is the value read back`);
    }
    return toVictim;
  }

  it('elects a new leader when the old one is partitioned from everyone, and the old one rejoins with the leader\'s documents', async () => {
    const outcome = await isolateLeader('partition', 0, (victim) => network.partition(hostOf(victim)), (victim) => network.rejoin(hostOf(victim)));
    await assertConsistent(outcome);
  });

  it('never has a leader cut off from its peers acknowledge the writes clients still send it', async () => {
    // Besides the workload (whose router soon goes elsewhere), a client that keeps writing to the
    // old leader itself all through the cut, each write on a probe key of the isolated shard.
    let probing = false;
    let probe: Promise<void> = Promise.resolve();
    const probes: Array<{ key: string; ok: boolean; error?: string }> = [];
    const startProbe = (victim: string) => {
      probing = true;
      const map = client!.router.maps.map;
      // Keys of the shards the victim is the preferred leader of: the one it led when cut off among them.
      const led = new Set(Object.values(map.data.shards).filter((r) => r.replicas[0] === victim).map((r) => r.id));
      const shardOf = (placement: string, slot: number) => client!.router.maps.map.shardOf(placement, slot);
      probe = (async () => {
        for (let i = 0; probing; i++) {
          const [key] = keysOnShards(shardOf, led, 1, `probe-${i}`);
          try {
            await caller().call('$data', 1, 'shardPut', { collection: CHAOS_COLLECTION, slot: slotOf(key), mapVersion: map.version, key, id: key, doc: { key, n: i, value: 'probe' } }, { node: victim, timeoutMs: 2_000 });
            probes.push({ key, ok: true });
          } catch (err) {
            probes.push({ key, ok: false, error: err instanceof Error ? err.message : String(err) });
          }
          await sleep(20);
        }
      })();
    };
    const cutFromPeers = async (victim: string) => {
      for (const peer of NODE_IDS.filter((n) => n !== victim)) await network.cut(hostOf(victim), hostOf(peer));
      startProbe(victim);
    };
    const healPeers = async (victim: string) => {
      probing = false;
      await probe;
      for (const peer of NODE_IDS.filter((n) => n !== victim)) await network.heal(hostOf(victim), hostOf(peer));
    };
    const outcome = await isolateLeader('cut', 1, cutFromPeers, healPeers);
    const { target, victim, cutAt, healAt, watch } = outcome;
    // Reachable all along, it said so itself: it stepped down, and its log ran past its commit
    // with writes it took while cut off and could not commit.
    const own = watch.reports({ node: victim, shard: target.id }).filter((r) => r.at > cutAt && r.at < healAt);
    assert.ok(own.some((r) => r.role !== 'leader'), `${victim} reported stepping down while cut off: ${JSON.stringify(own.slice(-3))}`);
    assert.ok(own.some((r) => r.lastIndex > r.commit), `${victim} held uncommitted entries while cut off: ${JSON.stringify(own.slice(-3))}`);
    const toVictim = await assertConsistent(outcome);
    assert.ok(toVictim.length + probes.length > 0, `clients sent ${victim} writes while it was cut off`);
    assert.deepEqual(probes.filter((p) => p.ok), [], `writes sent straight to ${victim} acknowledged while cut off`);
    // And none of them took effect anywhere: every probe key is absent on the shard's leader.
    for (const p of probes) assert.equal(await client!.collection(chaosCollection).get(p.key), undefined, `${p.key} was written`);
    assert.ok(
      calls.filter((c) => c.node === victim && c.sentAt >= cutAt && c.sentAt < healAt).every((c) => c.endedAt < healAt),
      'every write sent to the cut-off leader was answered before the heal',
    );
  });
});
