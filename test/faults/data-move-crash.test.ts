/**
 * A slot move survives kill -9 of its destination and of its source mid-copy: the supervisor
 * restarts the process, the rebalancer rolls the move back (or finishes it) and tries again,
 * and the cluster converges to an even map without losing an acknowledged write.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect, startCluster, type ClusterConnection, type ClusterHandle } from '../../src/cluster/index.ts';
import type { Coordinator } from '../../src/control/index.ts';
import { MOVES_PREFIX, ShardMapCache, createDataClient, placementOf, type DataClient, type MoveRecord, type RebalanceProgress, REBALANCE_PROGRESS_KEY } from '../../src/data/index.ts';
import { freePortBase, killLeftovers, removeDir, tempClusterDir } from '../support/cluster-harness.ts';
import { eventually } from '../support/eventually.ts';
import { records } from '../support/data-cluster-config.ts';

const config = resolve(import.meta.dirname, '../support/data-cluster-config.ts');
const DOCS = 4000;
const pad = 'x'.repeat(200);

describe('data: crash during a slot move', { timeout: 240_000 }, () => {
  let dir: string;
  let cluster: ClusterHandle;
  let client: DataClient;
  let connection: ClusterConnection;
  let coordinator: Coordinator;
  const pids = new Set<number>();
  /** key → last acknowledged value, and values of failed writes after it (they may have landed). */
  const history = new Map<string, { acked?: number; uncertain: number[] }>();

  before(async () => {
    dir = await tempClusterDir();
    cluster = await startCluster({ nodes: 2, gateways: 1, dir, port: await freePortBase(4), config, stopGraceMs: 15_000 });
    for (const p of (await cluster.status()).processes) if (p.pid) pids.add(p.pid);
    const secret = (await readFile(join(dir, 'secret'), 'utf8')).trim();
    connection = await connect({ controlUrl: cluster.controlUrl, secret });
    client = await createDataClient(connection, { collections: [records] });
    coordinator = connection.coordinator;
  });

  after(async () => {
    client?.close();
    await connection?.close().catch(() => undefined);
    for (const p of (await cluster?.status().catch(() => undefined))?.processes ?? []) if (p.pid) pids.add(p.pid);
    await cluster?.stop().catch(() => undefined);
    killLeftovers(pids);
    await removeDir(dir);
  });

  async function write(key: string, value: number): Promise<void> {
    let h = history.get(key);
    if (!h) history.set(key, (h = { uncertain: [] }));
    try {
      await client.collection(records).put({ key, value, pad });
      h.acked = value;
      h.uncertain = [];
    } catch {
      h.uncertain.push(value);
    }
  }

  /** Writers that keep overwriting a small key set while moves run. */
  function startWriters(round: number): () => Promise<void> {
    let running = true;
    const loops = Array.from({ length: 4 }, async (_, w) => {
      for (let n = 0; running; n++) {
        await write(`live-${w}-${n % 50}`, round * 1_000_000 + n);
        await sleep(5);
      }
    });
    return async () => {
      running = false;
      await Promise.all(loops);
    };
  }

  async function copyingMove(): Promise<MoveRecord> {
    return eventually(
      async () => {
        const { entries } = await coordinator.list(MOVES_PREFIX);
        const move = entries.map((e) => e.value as MoveRecord).find((m) => m.phase === 'copying');
        return move ?? false;
      },
      { message: 'a move in its copy phase', timeoutMs: 60_000, intervalMs: 10 },
    );
  }

  async function killNode(id: string): Promise<void> {
    const status = await cluster.status();
    const pid = status.processes.find((p) => p.id === id)?.pid;
    assert.ok(pid, `${id} is running`);
    process.kill(pid, 'SIGKILL');
    await eventually(async () => {
      const p = (await cluster.status()).processes.find((x) => x.id === id);
      if (p?.pid && p.pid !== pid && p.health === 'healthy') {
        pids.add(p.pid);
        return true;
      }
      return false;
    }, { message: `${id} restarted`, timeoutMs: 60_000 });
  }

  /** No move left, the rebalancer idle, every live node holding an even share. */
  async function converged(nodes: number): Promise<void> {
    const maps = new ShardMapCache(coordinator);
    try {
      await eventually(
        async () => {
          const map = await maps.refresh();
          const holdings = map.shardsOf(placementOf(undefined));
          const counts = holdings.map((h) => h.slots.length);
          const moves = (await coordinator.list(MOVES_PREFIX)).entries.length;
          const progress = (await coordinator.get(REBALANCE_PROGRESS_KEY))?.value as RebalanceProgress | undefined;
          return holdings.length === nodes && moves === 0 && progress?.state === 'idle' && Math.max(...counts) - Math.min(...counts) <= 1;
        },
        { message: `an even map over ${nodes} nodes`, timeoutMs: 120_000, intervalMs: 250 },
      );
    } finally {
      maps.close();
    }
  }

  async function checkNothingLost(): Promise<void> {
    const keys = [...history.keys()];
    const docs = await client.collection(records).getMany(keys);
    const wrong: string[] = [];
    keys.forEach((key, i) => {
      const h = history.get(key)!;
      const got = docs[i]?.doc.value;
      if (h.acked === undefined && got === undefined) return;
      if (got !== h.acked && !h.uncertain.includes(got as number)) wrong.push(`${key}: got ${String(got)}, acknowledged ${String(h.acked)}`);
    });
    assert.deepEqual(wrong.slice(0, 10), [], `${wrong.length} acknowledged write(s) lost or changed`);

    // Every shard holds documents only in slots the map gives it (no partial copy left behind).
    const map = await new ShardMapCache(coordinator).refresh(); // refresh() reads once; no watch to close
    for (const node of new Set(Object.values(map.data.shards).map((s) => s.replicas[0]))) {
      const answer = (await callNode(node, 'shardStats')) as { shards: Array<{ shard: number; slots: Array<{ slot: number; documents: number }> }> };
      for (const shard of answer.shards) {
        for (const s of shard.slots) {
          if (s.documents > 0) assert.equal(map.shardOf(placementOf(undefined), s.slot), shard.shard, `${node} shard ${shard.shard} holds slot ${s.slot}`);
        }
      }
    }
  }

  async function callNode(node: string, action: string): Promise<unknown> {
    return client.broker.call('$data', 1, action, {}, { node });
  }

  it('converges without loss after the destination, then the source, is killed mid-copy', async () => {
    await converged(2);
    const c = client.collection(records);
    for (let i = 0; i < DOCS; i += 100) await Promise.all(Array.from({ length: 100 }, (_, j) => write(`seed-${i + j}`, i + j)));
    assert.equal([...history.values()].filter((h) => h.acked !== undefined).length, DOCS, 'every seed write was acknowledged');

    // A third node joins: moves copy to it; kill it (the destination) mid-copy.
    let stopWriters = startWriters(1);
    const joining = cluster.scale(3);
    await joining;
    const first = await copyingMove();
    assert.equal(first.toNode, 'node-3');
    await killNode(first.toNode);
    await converged(3);
    await stopWriters();
    await checkNothingLost();

    // A fourth node joins: kill the source of a move mid-copy.
    stopWriters = startWriters(2);
    await cluster.scale(4);
    const second = await copyingMove();
    await killNode(second.fromNode);
    await converged(4);
    await stopWriters();
    await checkNothingLost();
    assert.ok((await c.get('seed-0'))?.doc.value === 0);
  });
});
