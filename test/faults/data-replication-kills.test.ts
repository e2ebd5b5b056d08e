/**
 * Shard leaders killed with SIGKILL, one every few seconds, under concurrent put,
 * compare-and-set and increment load on a 3-node cluster with 3 replicas per shard: the
 * history is checked by the linearizability checker, and no acknowledged write may be lost.
 * Each kill also times the first acknowledged write on that shard after it (printed, not
 * asserted: a timing is the benchmark's business).
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect, startCluster, type ClusterConnection, type ClusterHandle } from '../../src/cluster/index.ts';
import { runChaosTest, documentRegisters, type FaultInjector, type PlannedFault } from '../../src/cluster/chaos/index.ts';
import { chaosCollection, createDataClient, type DataClient, type ShardReplication } from '../../src/data/index.ts';
import { freePortBase, killLeftovers, removeDir, tempClusterDir } from '../support/cluster-harness.ts';
import { eventually } from '../support/eventually.ts';

const KILLS = Number(process.env.SHOAL_REPLICATION_KILLS ?? 20);
const SEED = Number(process.env.SHOAL_REPLICATION_SEED ?? 9);

/** Kills the leader of one shard after another (whichever node the fault plan named), once every node is back from the last kill. */
class LeaderKiller implements FaultInjector {
  readonly killed: Array<{ shard: number; node: string; term: number }> = [];
  readonly #cluster: ClusterHandle;
  readonly #connection: ClusterConnection;
  #turn = 0;

  constructor(cluster: ClusterHandle, connection: ClusterConnection) {
    this.#cluster = cluster;
    this.#connection = connection;
  }

  async nodes(): Promise<string[]> {
    return (await this.#cluster.status()).processes.filter((p) => p.role === 'node').map((p) => p.id);
  }

  async shards(): Promise<ShardReplication[]> {
    const map = (await this.#connection.caller.call('$data', 1, 'map', {}, { timeoutMs: 5_000 })) as { shards: ShardReplication[] };
    return map.shards;
  }

  async inject(_fault: PlannedFault): Promise<string> {
    // A kill while the last victim is still restarting would take the majority away: wait for it.
    await this.settled(15_000);
    const shards = (await this.shards()).filter((s) => s.leader !== null).sort((a, b) => a.id - b.id);
    if (shards.length === 0) throw new Error('no shard has a leader to kill');
    const target = shards[this.#turn++ % shards.length];
    const process = (await this.#cluster.status()).processes.find((p) => p.id === target.leader);
    if (!process?.pid) throw new Error(`no pid for ${target.leader}`);
    globalThis.process.kill(process.pid, 'SIGKILL');
    this.killed.push({ shard: target.id, node: target.leader!, term: target.term });
    return `leader of shard ${target.id} (${target.leader}, term ${target.term}), pid ${process.pid}`;
  }

  async healAll(): Promise<string[]> {
    return [];
  }

  async settled(timeoutMs: number): Promise<string[]> {
    const until = Date.now() + timeoutMs;
    let down: string[] = [];
    while (Date.now() < until) {
      down = (await this.#cluster.status()).processes.filter((p) => p.role === 'node' && p.health !== 'healthy').map((p) => p.id);
      if (down.length === 0) return [];
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    return down;
  }
}

describe('data replication: shard leaders killed under load', { timeout: 420_000 }, () => {
  let dir: string;
  let cluster: ClusterHandle;
  let connection: ClusterConnection;
  let client: DataClient;
  const pids = new Set<number>();

  before(async () => {
    dir = await tempClusterDir();
    cluster = await startCluster({ nodes: 3, gateways: 1, dir, port: await freePortBase(4), config: join(import.meta.dirname, '../support/data-cluster-config.ts'), stopGraceMs: 10_000 });
    const secret = (await readFile(join(dir, 'secret'), 'utf8')).trim();
    connection = await connect({ controlUrl: cluster.controlUrl, secret });
    client = await createDataClient(connection, { collections: [chaosCollection] });
  });

  after(async () => {
    client?.close();
    await connection?.close().catch(() => undefined);
    for (const p of (await cluster?.status().catch(() => undefined))?.processes ?? []) if (p.pid) pids.add(p.pid);
    await cluster?.stop().catch(() => undefined);
    killLeftovers(pids);
    await removeDir(dir);
  });

  it(`keeps the history linearizable and every acknowledged write through ${KILLS} leader kills`, { timeout: 400_000 }, async () => {
    const killer = new LeaderKiller(cluster, connection);
    // Every shard on all three nodes, each led, before the first kill.
    await eventually(async () => {
      const shards = await killer.shards();
      return shards.length === 3 && shards.every((s) => s.replicas.length === 3 && !s.underReplicated);
    }, { message: 'three fully replicated shards', timeoutMs: 60_000, intervalMs: 250 });

    const report = await runChaosTest(documentRegisters(client.collection(chaosCollection), client.router), killer, {
      // The schedule puts a kill every 3 to 3.5 s.
      durationMs: Math.round(KILLS * 3_600 + 1_500),
      faults: ['kill'],
      keys: 9,
      clients: 12,
      seed: SEED,
      runId: `kills-${SEED}`,
      recoverTimeoutMs: 30_000,
    });
    const summary = {
      operations: { ok: report.operations.ok, failed: report.operations.failed, uncertain: report.operations.uncertain },
      kills: report.faults.length,
      linearizable: report.linearizable,
      lost: report.lostWrites.length,
      checkMs: report.checkMs,
    };
    process.stdout.write(`# leader kills: ${JSON.stringify(summary)}\n`);
    const injected = report.faults.filter((f) => f.outcome === 'injected');
    assert.ok(injected.length >= KILLS, `leader kills injected: ${injected.length}: ${JSON.stringify(report.faults.filter((f) => f.outcome === 'failed'))}`);
    assert.deepEqual(report.lostWrites, [], 'no acknowledged write lost');
    assert.deepEqual(report.violations, [], 'the history is linearizable');
    assert.equal(report.linearizable, true);
    assert.equal(report.passed, true, JSON.stringify({ unreadKeys: report.unreadKeys, unknownKeys: report.unknownKeys, nodesNotBack: report.nodesNotBack }));
    assert.ok(report.operations.ok > 500, `the workload made progress: ${JSON.stringify(report.operations)}`);
    // Leaders really changed hands: the terms grew.
    const terms = (await killer.shards()).map((s) => s.term);
    assert.ok(terms.reduce((a, b) => a + b, 0) > 3 * 2 + KILLS / 2, `terms after the kills: ${terms}`);
  });
});
