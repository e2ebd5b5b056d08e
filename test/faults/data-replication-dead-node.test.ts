/**
 * A node killed with SIGKILL and left dead, on a 4-node cluster with 3 replicas per shard and a
 * short replica timeout: once the timeout runs out every shard is rebuilt to 3 replicas on the
 * nodes still alive, and nothing acknowledged is lost. A second node then dies too (2 of 4 gone):
 * each shard lost at most one of its 3 replicas to it, so everything acknowledged still reads
 * back and writes still succeed.
 *
 * The two nodes that die are started outside the supervisor, as nodes joined by hand are:
 * nothing restarts them.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect, startCluster, type ClusterConnection, type ClusterHandle } from '../../src/cluster/index.ts';
import { createDataClient, type DataClient } from '../../src/data/index.ts';
import { AcknowledgedWrites } from '../support/acknowledged-writes.ts';
import { freePortBase, killLeftovers, removeDir, tempClusterDir } from '../support/cluster-harness.ts';
import { records } from '../support/data-cluster-config.ts';
import { eventually } from '../support/eventually.ts';
import { HandStartedNode } from '../support/hand-started-node.ts';
import { expectFullyReplicated, replicationMap, unownedSlots } from '../support/replication-map.ts';

const config = join(import.meta.dirname, '../support/data-replica-timeout-config.ts');
const SEED_DOCS = 1_000;
/** Past the config's 5 s replica timeout, with room for copies on a loaded machine. */
const REBUILD_TIMEOUT_MS = 120_000;

describe('data replication: a node killed and left dead', { timeout: 300_000 }, () => {
  let dir: string;
  let cluster: ClusterHandle;
  let connection: ClusterConnection;
  let client: DataClient;
  const pids = new Set<number>();
  const handStarted: HandStartedNode[] = [];

  before(async () => {
    dir = await tempClusterDir();
    const port = await freePortBase(4);
    cluster = await startCluster({ nodes: 2, gateways: 1, dir, port, config, stopGraceMs: 10_000 });
    for (const index of [3, 4]) {
      const node = new HandStartedNode({ dir, port, index, controlUrl: cluster.controlUrl, config });
      handStarted.push(node);
      await node.start();
    }
    const secret = (await readFile(join(dir, 'secret'), 'utf8')).trim();
    connection = await connect({ controlUrl: cluster.controlUrl, secret });
    client = await createDataClient(connection, { collections: [records] });
  });

  after(async () => {
    client?.close();
    await connection?.close().catch(() => undefined);
    await Promise.all(handStarted.map((node) => node.kill()));
    for (const p of (await cluster?.status().catch(() => undefined))?.processes ?? []) if (p.pid) pids.add(p.pid);
    await cluster?.stop().catch(() => undefined);
    killLeftovers(pids);
    await removeDir(dir);
  });

  /** Reads every key back, retrying only reads that fail (a shard may be electing); a wrong value fails at once. */
  async function lostWrites(writes: AcknowledgedWrites): Promise<string[]> {
    return eventually(() => writes.lost(), { message: 'every key read back', timeoutMs: 60_000, intervalMs: 500 });
  }

  it('rebuilds every shard to 3 replicas without the dead node, then survives a second death', async () => {
    const [third, fourth] = handStarted;
    await eventually(async () => {
      const map = await expectFullyReplicated(connection.caller, { replicas: 3 });
      return map.shards.length === 4;
    }, { message: 'four shards, each on 3 in-sync replicas', timeoutMs: 90_000, intervalMs: 500 });

    const writes = new AcknowledgedWrites(client.collection(records));
    for (let i = 0; i < SEED_DOCS; i += 50) await Promise.all(Array.from({ length: 50 }, (_, j) => writes.put(`seed-${i + j}`, i + j)));
    assert.equal(writes.keys.length, SEED_DOCS, `every seed write acknowledged (${writes.failed} failed)`);

    // The writers keep going through the death and the rebuild.
    const stopWriters = writes.startWriters('live', 4, 40);
    const ledBefore = (await replicationMap(connection.caller)).shards.filter((s) => s.leader === third.id).map((s) => s.id);
    await third.kill();
    const rebuilt = await eventually(() => expectFullyReplicated(connection.caller, { replicas: 3, gone: [third.id] }), {
      message: `every shard back to 3 in-sync replicas, none on ${third.id}`,
      timeoutMs: REBUILD_TIMEOUT_MS,
      intervalMs: 500,
    });
    await stopWriters();
    process.stdout.write(`# ${third.id} led shard(s) ${ledBefore.join(',') || 'none'}; after the rebuild: ${JSON.stringify(rebuilt.shards.map((s) => ({ id: s.id, replicas: s.replicas, leader: s.leader })))}\n`);
    assert.deepEqual(unownedSlots(rebuilt), {}, 'every slot owned by a shard of the map');
    assert.ok(Object.keys(rebuilt.placements).length > 0, 'the map has a placement');
    assert.ok(writes.acknowledged > SEED_DOCS, `the writers made progress through the death: ${writes.acknowledged} acknowledged, ${writes.failed} failed`);
    assert.deepEqual((await lostWrites(writes)).slice(0, 10), [], 'every acknowledged write reads back after the rebuild');

    // A second node dies: every shard still has 2 of its 3 replicas, a majority.
    await fourth.kill();
    const later = new AcknowledgedWrites(client.collection(records));
    await eventually(() => later.put('after-probe', 1), { message: 'a write acknowledged after the second death', timeoutMs: 60_000, intervalMs: 500 });
    for (let i = 0; i < 200; i++) {
      const key = `after-${i}`;
      await eventually(() => later.put(key, i), { message: `${key} acknowledged`, timeoutMs: 30_000, intervalMs: 250 });
    }
    assert.deepEqual((await lostWrites(writes)).slice(0, 10), [], 'every write acknowledged before the second death reads back');
    assert.deepEqual((await lostWrites(later)).slice(0, 10), [], 'every write acknowledged after it reads back');

    // With two nodes left, each shard settles on both of them.
    const settled = await eventually(() => expectFullyReplicated(connection.caller, { replicas: 2, gone: [third.id, fourth.id] }), {
      message: 'every shard on the 2 nodes left, in sync',
      timeoutMs: REBUILD_TIMEOUT_MS,
      intervalMs: 500,
    });
    assert.deepEqual(unownedSlots(settled), {}, 'every slot still owned');
  });
});
