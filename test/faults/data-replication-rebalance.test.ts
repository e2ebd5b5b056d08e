/**
 * Rebalancing with 3 replicas per shard under load: a 3-node cluster scales to 5 nodes and
 * back to 3 (the two newest drained) while a register workload of puts, compare-and-sets and
 * increments runs throughout. Each step waits until the rebalancer is done (no move in flight,
 * even slots, every shard on 3 in-sync replicas). The history is checked by the
 * linearizability checker: no acknowledged write may be lost. Documents written before the
 * scaling must all read back, and at the end every shard is fully replicated on the 3 nodes
 * left, with every slot owned.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect, startCluster, documentRegisters, type ClusterConnection, type ClusterHandle } from '../../src/cluster/index.ts';
import { chaosCollection, createDataClient, type DataClient } from '../../src/data/index.ts';
import { AcknowledgedWrites } from '../support/acknowledged-writes.ts';
import { freePortBase, killLeftovers, removeDir, tempClusterDir } from '../support/cluster-harness.ts';
import { records } from '../support/data-cluster-config.ts';
import { eventually } from '../support/eventually.ts';
import { RegisterLoad } from '../support/register-load.ts';
import { expectBalanced, expectFullyReplicated, unownedSlots, type ReplicationMap } from '../support/replication-map.ts';

const config = join(import.meta.dirname, '../support/data-cluster-config.ts');
const SEED = Number(process.env.SHOAL_REBALANCE_SEED ?? 5);
const SEED_DOCS = 1_000;

describe('data replication: rebalancing 3 → 5 → 3 nodes under load', { timeout: 420_000 }, () => {
  let dir: string;
  let cluster: ClusterHandle;
  let connection: ClusterConnection;
  let client: DataClient;
  const pids = new Set<number>();

  before(async () => {
    dir = await tempClusterDir();
    cluster = await startCluster({ nodes: 3, gateways: 1, dir, port: await freePortBase(5), config, stopGraceMs: 30_000 });
    const secret = (await readFile(join(dir, 'secret'), 'utf8')).trim();
    connection = await connect({ controlUrl: cluster.controlUrl, secret });
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

  async function nodePids(): Promise<void> {
    for (const p of (await cluster.status()).processes) if (p.pid) pids.add(p.pid);
  }

  /** The rebalancer done over `nodes` nodes, each shard on 3 in-sync replicas and none on a node in `gone`. */
  function settledOver(nodes: number, gone: string[] = []): Promise<ReplicationMap> {
    return eventually(
      async () => {
        await expectBalanced(connection.coordinator, nodes);
        const map = await expectFullyReplicated(connection.caller, { replicas: 3, gone });
        if (map.shards.length !== nodes) throw new Error(`${map.shards.length} shards, not ${nodes}`);
        return map;
      },
      { message: `an even map over ${nodes} nodes, every shard on 3 in-sync replicas${gone.length > 0 ? `, none on ${gone.join(',')}` : ''}`, timeoutMs: 180_000, intervalMs: 500 },
    );
  }

  it('loses no acknowledged write and ends fully replicated on the nodes left', async () => {
    await settledOver(3);
    const seeded = new AcknowledgedWrites(client.collection(records));
    for (let i = 0; i < SEED_DOCS; i += 50) await Promise.all(Array.from({ length: 50 }, (_, j) => seeded.put(`seed-${i + j}`, i + j)));
    assert.equal(seeded.keys.length, SEED_DOCS, `every seed write acknowledged (${seeded.failed} failed)`);

    const load = new RegisterLoad({ store: documentRegisters(client.collection(chaosCollection), client.router), clients: 8, keys: 9, seed: SEED, runId: `rebalance-${SEED}` });
    load.start();
    try {
      await cluster.scale(5);
      await nodePids();
      const atFive = await settledOver(5);
      const duringScaleOut = load.acknowledged;
      process.stdout.write(`# at 5 nodes: ${JSON.stringify(atFive.shards.map((s) => ({ id: s.id, slots: s.slots, replicas: s.replicas })))}\n`);

      await cluster.scale(3);
      const atThree = await settledOver(3, ['node-4', 'node-5']);
      process.stdout.write(`# back at 3 nodes: ${JSON.stringify(atThree.shards.map((s) => ({ id: s.id, slots: s.slots, replicas: s.replicas })))}\n`);
      const result = await load.finish();
      const { verdict } = result;
      process.stdout.write(`# register load: ${JSON.stringify({ ...result.operations, linearizable: verdict.linearizable, lost: verdict.lostWrites.length, checkMs: Math.round(verdict.checkMs) })}\n`);

      assert.ok(duringScaleOut > 100 && result.operations.ok > duringScaleOut + 100, `the load made progress through both steps: ${duringScaleOut} ok by 5 nodes, ${result.operations.ok} in all`);
      assert.deepEqual(verdict.lostWrites, [], 'no acknowledged register write lost');
      assert.deepEqual(verdict.violations, [], 'the register history is linearizable');
      assert.equal(verdict.linearizable, true, `undecided keys: ${verdict.unknownKeys.join(',')}`);
      assert.deepEqual(result.unread, [], 'every register read back');

      const lost = await eventually(() => seeded.lost(), { message: 'every seeded document read back', timeoutMs: 60_000, intervalMs: 500 });
      assert.deepEqual(lost.slice(0, 10), [], `${lost.length} seeded document(s) lost or changed`);

      // The end state, once more after the reads: still fully replicated, every slot owned.
      const final = await eventually(() => expectFullyReplicated(connection.caller, { replicas: 3, gone: ['node-4', 'node-5'] }), {
        message: 'every shard still on 3 in-sync replicas',
        timeoutMs: 30_000,
        intervalMs: 500,
      });
      assert.deepEqual(unownedSlots(final), {}, 'every slot owned by a shard of the map');
      assert.ok(Object.keys(final.placements).length > 0, 'the map has a placement');
      for (const shard of final.shards) assert.deepEqual([...shard.replicas].sort(), ['node-1', 'node-2', 'node-3'], `shard ${shard.id} on the three nodes left`);
      const nodes = (await cluster.status()).processes.filter((p) => p.role === 'node').map((p) => p.id);
      assert.deepEqual(nodes, ['node-1', 'node-2', 'node-3']);
    } finally {
      await load.stop();
    }
  });
});
