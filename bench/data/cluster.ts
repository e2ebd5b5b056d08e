/**
 * The Shoal side of the data suite: a local cluster of separate processes (control, 3 nodes,
 * one gateway) started with startCluster from one of the suite's own configs, and a wait until
 * the rebalancer has spread the slots evenly over the nodes with no move in flight.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectCoordinator, startCluster, type ClusterHandle, type ClusterStatus } from '../../src/cluster/index.ts';
import { MOVES_PREFIX, REBALANCE_PROGRESS_KEY, ShardMapCache, placementOf, type RebalanceProgress } from '../../src/data/index.ts';
import { freeClusterPortBase } from '../lib/ports.ts';

export const configPath = fileURLToPath(new URL('./cluster-config.ts', import.meta.url));

export interface BenchCluster {
  controlUrl: string;
  secret: string;
  dir: string;
  /** Processes of the cluster, for CPU accounting and profiling notes. */
  pids(): Promise<Array<{ id: string; pid: number }>>;
  /** Every process with its pid, health and when its current incarnation started. */
  status(): Promise<ClusterStatus>;
  stop(): Promise<void>;
  /** SIGKILL to every process and remove the directory, for an interrupted run. */
  kill(): void;
}

/** Starts a cluster from `config` (default cluster-config.ts) and waits until its slots are balanced. */
export async function startBenchCluster(nodes: number, onProgress: (line: string) => void, config: string = configPath): Promise<BenchCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-bench-data-'));
  let cluster: ClusterHandle | undefined;
  try {
    const port = await freeClusterPortBase(nodes);
    cluster = await startCluster({
      nodes,
      dir,
      port,
      config,
      stopGraceMs: 10_000,
      onProgress: (event) => {
        if (event.type === 'ready') onProgress(`  ${event.id} ready (pid ${event.pid}${event.restarts > 0 ? `, restart ${event.restarts}` : ''})`);
        else if (event.type === 'exited' && !event.expected) onProgress(`  WARNING: ${event.id} exited unexpectedly (${event.signal ?? `code ${event.code}`})`);
      },
    });
    const secret = readFileSync(join(dir, 'secret'), 'utf8').trim();
    await waitBalanced(cluster.controlUrl, secret, nodes, 180_000);
    const handle = cluster;
    return {
      controlUrl: handle.controlUrl,
      secret,
      dir,
      async pids() {
        return (await handle.status()).processes.flatMap((p) => (p.pid ? [{ id: p.id, pid: p.pid }] : []));
      },
      status: () => handle.status(),
      async stop() {
        try {
          await handle.stop();
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      },
      kill() {
        handle.kill();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    if (cluster) await cluster.stop().catch(() => cluster?.kill());
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** Resolves once the map spreads the slots over `nodes` nodes within one slot of each other and no move is in flight. */
export async function waitBalanced(controlUrl: string, secret: string, nodes: number, timeoutMs: number): Promise<void> {
  const coordinator = connectCoordinator({ controlUrl, secret });
  const maps = new ShardMapCache(coordinator);
  const until = Date.now() + timeoutMs;
  let last = '';
  try {
    for (;;) {
      const map = await maps.refresh();
      const counts = map.shardsOf(placementOf(undefined)).map((h) => h.slots.length);
      const moves = (await coordinator.list(MOVES_PREFIX)).entries.length;
      const progress = (await coordinator.get(REBALANCE_PROGRESS_KEY))?.value as RebalanceProgress | undefined;
      const idle = progress === undefined || progress === null || progress.state === 'idle';
      last = `slots per node [${counts.join(', ')}], ${moves} move(s) in flight, rebalancer ${progress?.state ?? 'not started'}`;
      if (counts.length === nodes && moves === 0 && idle && Math.max(...counts) - Math.min(...counts) <= 1) return;
      if (Date.now() > until) throw new Error(`the data did not balance over ${nodes} nodes within ${timeoutMs / 1000} s: ${last}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  } finally {
    maps.close();
    await coordinator.close();
  }
}
