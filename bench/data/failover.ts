/**
 * The failover measurement (case `failover`, not run by default): on a running bench cluster,
 * kill -9 the node leading a shard while writers keep writing keys of that shard, and time the
 * kill to the first acknowledged write on the shard; median and max over BENCH_FAILOVER_KILLS
 * kills (default 10), the shard under test taking turns so every node is killed in its turn.
 *
 * With replicated shards the time is a follower taking over: detection plus election plus the
 * client finding the new leader. With one copy per shard (`data.replicas = 1`) nobody takes
 * over: the time is the supervisor restarting the killed node and the node reopening its
 * shard. The same code measures both; only the cluster's config differs. The node killed is
 * the shard's preferred leader, which leads it again once it has been back a while.
 */
import { fileURLToPath } from 'node:url';
import { connectCoordinator } from '../../src/cluster/index.ts';
import { isReadyHealth } from '../../src/cluster/health.ts';
import { DEFAULT_PLACEMENT, ShardMapCache, slotOf, type ShardMap } from '../../src/data/index.ts';
import { median } from '../lib/stats.ts';
import { BenchWorker } from '../lib/worker.ts';
import { waitBalanced, type BenchCluster } from './cluster.ts';
import type { ProbeParams, ProbeResult } from './failover-client.ts';

/**
 * The supervisor restarts a process that crashed within 30 s of starting only after a growing
 * backoff (0.5 s doubling to 10 s); one up longer restarts at once. Each node is killed only
 * after this much uptime so every kill meets the same policy, not the backoff of the last one.
 */
const UPTIME_BEFORE_KILL_MS = 31_000;
const KEYS_PER_SHARD = 32;
const WRITERS = 8;
const RECOVERY_TIMEOUT_MS = 60_000;

export interface FailoverResult {
  /** Kill to first acknowledged write, one per kill that recovered. */
  samplesMs: number[];
  medianMs: number;
  maxMs: number;
  /** Kills after which no write was acknowledged within RECOVERY_TIMEOUT_MS, or that could not be made. */
  failures: string[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Keys of the docs collection whose slot the shard owns in this map. */
function keysOfShard(map: ShardMap, shard: number, count: number): string[] {
  const keys: string[] = [];
  for (let i = 0; keys.length < count && i < 1_000_000; i++) {
    const key = `failover-${shard}-${i}`;
    if (map.shardOf(DEFAULT_PLACEMENT, slotOf(key)) === shard) keys.push(key);
  }
  return keys;
}

/** Resolves once every process of the cluster is up and ready again. */
async function waitAllReady(cluster: BenchCluster, timeoutMs: number): Promise<void> {
  const until = performance.now() + timeoutMs;
  for (;;) {
    const { processes } = await cluster.status();
    const notReady = processes.filter((p) => p.pid === null || !isReadyHealth(p.health));
    if (notReady.length === 0) return;
    if (performance.now() > until) throw new Error(`not ready within ${timeoutMs / 1000} s: ${notReady.map((p) => `${p.id} ${p.health}`).join(', ')}`);
    await sleep(250);
  }
}

/** Kills shard leaders one after another and times each recovery; see the module comment. */
export async function measureFailover(cluster: BenchCluster, nodes: number, kills: number, log: (line: string) => void): Promise<FailoverResult> {
  const { worker } = await BenchWorker.start({
    name: 'failover client',
    file: fileURLToPath(new URL('./failover-client.ts', import.meta.url)),
    args: [cluster.controlUrl],
    env: { SHOAL_SECRET: cluster.secret },
  });
  const coordinator = connectCoordinator({ controlUrl: cluster.controlUrl, secret: cluster.secret });
  const maps = new ShardMapCache(coordinator);
  const samplesMs: number[] = [];
  const failures: string[] = [];
  try {
    for (let k = 0; k < kills; k++) {
      await waitAllReady(cluster, 120_000);
      await waitBalanced(cluster.controlUrl, cluster.secret, nodes, 180_000);
      const map = await maps.refresh();
      const shards = map.shardsOf(DEFAULT_PLACEMENT).sort((a, b) => a.shard - b.shard);
      const target = shards[k % shards.length];
      // The shard's first replica is its preferred leader, which leads it once back and caught up.
      const leader = map.shard(target.shard)?.replicas[0];
      const proc = (await cluster.status()).processes.find((p) => p.id === leader);
      if (!leader || !proc || proc.pid === null) {
        failures.push(`kill ${k + 1}: shard ${target.shard} has no running leader process (${leader ?? 'none in the map'})`);
        continue;
      }
      const uptime = proc.startedAt === null ? 0 : Date.now() - Date.parse(proc.startedAt);
      if (uptime < UPTIME_BEFORE_KILL_MS) await sleep(UPTIME_BEFORE_KILL_MS - uptime);
      const params: ProbeParams = { keys: keysOfShard(map, target.shard, KEYS_PER_SHARD), pid: proc.pid, concurrency: WRITERS, timeoutMs: RECOVERY_TIMEOUT_MS };
      const result = await worker.task<ProbeResult>('probe', params, RECOVERY_TIMEOUT_MS + 60_000);
      const what = `kill ${k + 1}/${kills}: ${leader} (pid ${proc.pid}, leader of shard ${target.shard})`;
      if (result.recoveryMs === null) {
        failures.push(`${what}: no write acknowledged within ${RECOVERY_TIMEOUT_MS / 1000} s (${result.firstError ?? 'no error seen'})`);
        log(`  ${failures[failures.length - 1]}`);
        continue;
      }
      samplesMs.push(result.recoveryMs);
      log(`  ${what}: first acknowledged write ${result.recoveryMs.toFixed(0)} ms after the kill, ${result.failedAfterKill} write(s) failed meanwhile`);
    }
    // Leave the cluster as it was found, for whatever runs next.
    await waitAllReady(cluster, 120_000);
    await waitBalanced(cluster.controlUrl, cluster.secret, nodes, 180_000);
  } finally {
    await worker.stop();
    maps.close();
    await coordinator.close();
  }
  return { samplesMs, medianMs: median(samplesMs), maxMs: samplesMs.length > 0 ? Math.max(...samplesMs) : 0, failures };
}
