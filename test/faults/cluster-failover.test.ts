import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startCluster, type ClusterHandle, type ClusterStatus } from '../../src/cluster/index.ts';
import {
  CallerLoop,
  callGateway,
  callMany,
  cliStatus,
  countByNode,
  describeFailures,
  freePortBase,
  processById,
  removeDir,
  tempClusterDir,
  type CallRecord,
} from '../support/cluster-harness.ts';
import { eventually } from '../support/eventually.ts';

// How long the cluster may take to notice a dead node and route around it; a bound on
// recovery, not a speed measurement: every call after it must succeed.
const FAILOVER_GRACE_MS = 5_000;

/**
 * Watches status while a process is down and back. `shoal status --json` prints the
 * supervisor's GET /status answer; on a busy machine starting the CLI takes longer than a
 * restart, so that endpoint is polled as well, and the CLI keeps polling alongside.
 */
class StatusWatcher {
  readonly seen: { source: 'cli' | 'admin'; status: ClusterStatus }[] = [];
  #running = true;
  readonly #loops: Promise<void>[];

  constructor(dir: string, adminUrl: string, adminToken: string) {
    const cli = Array.from({ length: 2 }, async (_, i) => {
      await sleep(i * 150);
      while (this.#running) {
        try {
          this.seen.push({ source: 'cli', status: await cliStatus(dir) });
        } catch {
          // A status that fails to answer is not an observation.
        }
      }
    });
    const admin = (async () => {
      while (this.#running) {
        try {
          const response = await fetch(`${adminUrl}/status`, { headers: { authorization: `Bearer ${adminToken}` } });
          if (response.ok) this.seen.push({ source: 'admin', status: (await response.json()) as ClusterStatus });
        } catch {
          // As above.
        }
        await sleep(50);
      }
    })();
    this.#loops = [...cli, admin];
  }

  /** Resolves once the CLI has answered, so its pollers are already running at the kill. */
  async warm(): Promise<void> {
    await eventually(() => this.seen.some((s) => s.source === 'cli'), { message: 'status observations', timeoutMs: 30_000, intervalMs: 20 });
  }

  async stop(): Promise<StatusWatcher['seen']> {
    this.#running = false;
    await Promise.all(this.#loops);
    return this.seen;
  }
}

describe('failover in a local cluster', { timeout: 180_000 }, () => {
  let cluster: ClusterHandle | undefined;
  let dir = '';
  let gateway = '';
  const codes: string[] = [];

  before(async () => {
    dir = await tempClusterDir();
    cluster = await startCluster({ nodes: 3, gateways: 1, dir, port: await freePortBase() });
    gateway = cluster.gatewayUrl;
    for (let i = 0; i < 5; i++) {
      const created = await callGateway(gateway, 'links', 'create', { url: `https://example.com/failover/${i}` });
      assert.ok(created.ok, `setup create failed: ${created.error}`);
      codes.push((created.body as { code: string }).code);
    }
  });

  after(async () => {
    await cluster?.stop();
    await removeDir(dir);
  });

  /** Alternates idempotent reads with creates, as a client of the links app would. */
  const linksTraffic = (i: number): Promise<CallRecord> =>
    i % 2 === 0
      ? callGateway(gateway, 'links', 'resolve', { code: codes[i % codes.length] }, { method: 'GET' })
      : callGateway(gateway, 'links', 'create', { url: `https://example.com/during/${i}` });

  it('restarts a node killed with SIGKILL and routes around it meanwhile', async () => {
    const before = await cliStatus(dir);
    const oldPid = processById(before, 'node-2')?.pid;
    assert.ok(oldPid, 'node-2 has a pid');

    const loop = new CallerLoop(2, linksTraffic);
    // Watching starts before the kill: node-2 is down only until its restart is ready.
    const watcher = new StatusWatcher(dir, cluster!.adminUrl, cluster!.adminToken);
    await watcher.warm();
    const killedAt = Date.now();
    process.kill(oldPid, 'SIGKILL');

    const restarted = await eventually(async () => {
      const status = await cliStatus(dir);
      const node = processById(status, 'node-2');
      return node && node.health === 'healthy' && node.pid !== oldPid ? node : undefined;
    }, { message: 'node-2 healthy again with a new pid', timeoutMs: 60_000, intervalMs: 200 });
    // Keep calling past the grace period, so the check below has calls to look at.
    await eventually(() => loop.records.filter((r) => r.at >= killedAt + FAILOVER_GRACE_MS + 2_000).length >= 4, {
      message: 'calls made well after the grace period',
      timeoutMs: 60_000,
    });
    const history = await loop.stop();
    const seen = await watcher.stop();

    assert.ok(restarted.restarts >= 1, `node-2 restarts: ${restarted.restarts}`);
    const downSeen = seen.filter((s) => processById(s.status, 'node-2')?.health === 'down');
    assert.ok(downSeen.length > 0, `status never showed node-2 down (${seen.length} observations)`);
    // Down until the replacement is ready: never a half-started state in between.
    const states = new Set(seen.map((s) => processById(s.status, 'node-2')?.health));
    assert.deepEqual([...states].filter((h) => h !== 'down' && h !== 'healthy'), [], `node-2 was shown as ${[...states].join(', ')}`);
    assert.ok(seen.some((s) => s.source === 'cli'), 'the CLI reported status during the restart');

    const afterGrace = history.filter((r) => r.at >= killedAt + FAILOVER_GRACE_MS);
    assert.ok(afterGrace.length > 0, 'calls were made after the grace period');
    assert.deepEqual(afterGrace.filter((r) => !r.ok), [], `calls failed after the grace period:\n${describeFailures(afterGrace)}`);
    assert.ok(history.some((r) => r.ok && r.at > killedAt), 'calls succeeded after the kill');

    // The gateway learns of the new node-2 from membership; once it has, node-2 gets its share.
    await eventually(async () => (await callGateway(gateway, '$node', 'info', {}, { adminToken: cluster!.adminToken })).node === 'node-2', { message: 'node-2 serving calls again', timeoutMs: 20_000, intervalMs: 50 });
    const next = await callMany(300, 6, (i) => callGateway(gateway, 'links', 'create', { url: `https://example.com/after/${i}` }));
    assert.deepEqual(next.filter((r) => !r.ok), [], describeFailures(next));
    const share = countByNode(next).get('node-2') ?? 0;
    assert.ok(share >= 45, `node-2 served ${share} of 300 calls after its restart (want at least 15%): ${JSON.stringify([...countByNode(next)])}`);
  });

  it('keeps serving through the gateway while control is killed and restarted', async () => {
    const before = await cliStatus(dir);
    const oldPid = processById(before, 'control')?.pid;
    assert.ok(oldPid, 'control has a pid');

    // Calls that need only the nodes: links keep their data in control's key-value store, so
    // they cannot be served while control is gone; node-to-node routing must not need it.
    const loop = new CallerLoop(2, () => callGateway(gateway, '$node', 'info', {}, { adminToken: cluster!.adminToken }));
    await eventually(() => loop.records.some((r) => r.ok), { message: 'a call answered before the kill' });
    process.kill(oldPid, 'SIGKILL');

    await eventually(async () => {
      const node = processById(await cliStatus(dir), 'control');
      return node && node.health === 'healthy' && node.pid !== oldPid;
    }, { message: 'control healthy again with a new pid', timeoutMs: 60_000, intervalMs: 200 });
    await eventually(async () => (await cliStatus(dir)).processes.every((p) => p.health === 'healthy'), { message: 'every process healthy', timeoutMs: 30_000, intervalMs: 200 });
    // Calls made after control is back are part of the history checked below.
    const healthyAt = Date.now();
    await eventually(() => loop.records.filter((r) => r.at >= healthyAt).length >= 20, { message: '20 calls after control is healthy again', timeoutMs: 30_000 });
    const history = await loop.stop();

    assert.ok(history.length > 0);
    assert.deepEqual(history.filter((r) => !r.ok), [], `calls failed while control was down:\n${describeFailures(history)}`);

    // Membership is back: every node is reachable through the gateway again, and links work.
    const served = new Set<string>();
    await eventually(async () => {
      const record = await callGateway(gateway, '$node', 'info', {}, { adminToken: cluster!.adminToken });
      if (record.ok && record.node) served.add(record.node);
      return served.size === 3;
    }, { message: 'every node answering $node.info through the gateway', timeoutMs: 30_000, intervalMs: 20 });
    await eventually(async () => (await callGateway(gateway, 'links', 'create', { url: 'https://example.com/after-control' })).ok, { message: 'links.create answering after control restarted', timeoutMs: 30_000, intervalMs: 200 });
    const status = await cliStatus(dir);
    assert.equal(processById(status, 'control')?.restarts, 1);
  });
});
