/**
 * A node down for less than `data.replicaTimeout` causes no slot or replica move at all: on a
 * 4-node cluster with 3 replicas per shard, nodes are killed with SIGKILL one after another
 * under write load and restarted by the supervisor; every shard map written meanwhile keeps the
 * same replica sets and slot ranges (leaders may change, the map does not), and nothing
 * acknowledged is lost.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect, startCluster, type ClusterConnection, type ClusterHandle } from '../../src/cluster/index.ts';
import { ShardMapCache, createDataClient, type DataClient, type ShardMap } from '../../src/data/index.ts';
import { AcknowledgedWrites } from '../support/acknowledged-writes.ts';
import { freePortBase, killLeftovers, removeDir, tempClusterDir } from '../support/cluster-harness.ts';
import { records } from '../support/data-cluster-config.ts';
import { eventually } from '../support/eventually.ts';
import { expectBalanced, expectFullyReplicated } from '../support/replication-map.ts';

// The default replica timeout (120 s): far longer than a restart takes.
const config = join(import.meta.dirname, '../support/data-cluster-config.ts');
const VICTIMS = ['node-2', 'node-4', 'node-1'];

/** What a node's restart must leave alone: each shard's replica set (preferred leader first) and every placement's slot ranges. */
function layoutOf(map: ShardMap): string {
  const shards = Object.values(map.data.shards)
    .sort((a, b) => a.id - b.id)
    .map((s) => ({ id: s.id, placement: s.placement, replicas: s.replicas }));
  return JSON.stringify({ shards, placements: map.data.placements });
}

describe('data replication: nodes restarted within the replica timeout', { timeout: 300_000 }, () => {
  let dir: string;
  let cluster: ClusterHandle;
  let connection: ClusterConnection;
  let client: DataClient;
  let maps: ShardMapCache | undefined;
  const pids = new Set<number>();

  before(async () => {
    dir = await tempClusterDir();
    cluster = await startCluster({ nodes: 4, gateways: 1, dir, port: await freePortBase(4), config, stopGraceMs: 10_000 });
    const secret = (await readFile(join(dir, 'secret'), 'utf8')).trim();
    connection = await connect({ controlUrl: cluster.controlUrl, secret });
    client = await createDataClient(connection, { collections: [records] });
  });

  after(async () => {
    maps?.close();
    client?.close();
    await connection?.close().catch(() => undefined);
    for (const p of (await cluster?.status().catch(() => undefined))?.processes ?? []) if (p.pid) pids.add(p.pid);
    await cluster?.stop().catch(() => undefined);
    killLeftovers(pids);
    await removeDir(dir);
  });

  /** SIGKILL, then wait for the supervisor's replacement to be serving. */
  async function killAndAwaitRestart(id: string): Promise<void> {
    const pid = (await cluster.status()).processes.find((p) => p.id === id)?.pid;
    assert.ok(pid, `${id} is running`);
    pids.add(pid);
    process.kill(pid, 'SIGKILL');
    await eventually(async () => {
      const p = (await cluster.status()).processes.find((x) => x.id === id);
      if (!p?.pid || p.pid === pid || p.health !== 'healthy') return false;
      pids.add(p.pid);
      return true;
    }, { message: `${id} restarted`, timeoutMs: 60_000, intervalMs: 250 });
  }

  it('moves no slot and no replica while nodes restart, and loses nothing acknowledged', async () => {
    await eventually(async () => {
      await expectBalanced(connection.coordinator, 4);
      return (await expectFullyReplicated(connection.caller, { replicas: 3 })).shards.length === 4;
    }, { message: 'four shards with even slots, each on 3 in-sync replicas', timeoutMs: 120_000, intervalMs: 500 });
    maps = new ShardMapCache(connection.coordinator);
    await maps.start();
    const baseline = layoutOf(await maps.refresh());
    // Every map written from here on, as the watch delivers it.
    const seen: Array<{ version: number; layout: string }> = [];
    maps.onChange((map) => seen.push({ version: map.version, layout: layoutOf(map) }));

    const writes = new AcknowledgedWrites(client.collection(records));
    const stopWriters = writes.startWriters('restart', 4, 50);
    const leadersBefore = (await expectFullyReplicated(connection.caller, { replicas: 3 })).shards.map((s) => s.leader);
    for (const victim of VICTIMS) {
      await killAndAwaitRestart(victim);
      // Back in sync before the next kill: two replicas of a shard down at once would take its majority.
      await eventually(() => expectFullyReplicated(connection.caller, { replicas: 3 }), {
        message: `every shard in sync again after ${victim} restarted`,
        timeoutMs: 90_000,
        intervalMs: 500,
      });
    }
    await stopWriters();

    const final = await expectFullyReplicated(connection.caller, { replicas: 3 });
    process.stdout.write(`# leaders before: ${leadersBefore.join(',')}; after: ${final.shards.map((s) => s.leader).join(',')}; maps written meanwhile: ${seen.length}\n`);
    const changed = seen.filter((m) => m.layout !== baseline);
    assert.deepEqual(changed, [], `no map written during the restarts moved a slot or a replica; before them: ${baseline}`);
    assert.equal(layoutOf(await maps.refresh()), baseline, 'the map at the end is the one from before');
    assert.ok(writes.acknowledged > 100, `the writers made progress: ${writes.acknowledged} acknowledged, ${writes.failed} failed`);
    const lost = await eventually(() => writes.lost(), { message: 'every key read back', timeoutMs: 60_000, intervalMs: 500 });
    assert.deepEqual(lost.slice(0, 10), [], `${lost.length} acknowledged write(s) lost`);
  });
});
