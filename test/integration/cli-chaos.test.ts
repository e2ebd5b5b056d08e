/**
 * `shoal chaos` against a running cluster: a partition cuts a node's links for real (the
 * gateway routes around it until it heals), latency and faults are listed where they are set,
 * and kill -9 makes the supervisor restart the node.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ClusterStatus } from '../../src/cluster/index.ts';
import { adminTokenOf, callGateway, cliStatus, freePortBase, isAlive, killLeftovers, processById, removeDir, runCli, tempClusterDir } from '../support/cluster-harness.ts';
import { eventually } from '../support/eventually.ts';

describe('shoal chaos', { timeout: 240_000 }, () => {
  let dir = '';
  let gateway = '';
  let token = '';
  const pids = new Set<number>();
  const remember = (status: ClusterStatus) => {
    pids.add(status.supervisorPid);
    for (const p of status.processes) if (p.pid !== null) pids.add(p.pid);
  };
  const chaos = (...args: string[]) => runCli(['chaos', ...args, '--dir', dir]);
  const servedBy = async (calls: number) => {
    const nodes = new Map<string, number>();
    for (let i = 0; i < calls; i++) {
      const answer = await callGateway(gateway, '$node', 'info', {}, { adminToken: token });
      assert.equal(answer.status, 200, answer.error);
      nodes.set(answer.node ?? '?', (nodes.get(answer.node ?? '?') ?? 0) + 1);
    }
    return nodes;
  };

  before(async () => {
    dir = await tempClusterDir();
    const up = await runCli(['up', '--detach', '--nodes', '2', '--dir', dir, '--port', String(await freePortBase(2))], 120_000);
    assert.equal(up.code, 0, up.stderr);
    const status = await cliStatus(dir);
    remember(status);
    gateway = status.gateway;
    token = adminTokenOf(dir);
  });

  after(async () => {
    if ([...pids].some(isAlive)) await runCli(['down', '--dir', dir], 90_000);
    killLeftovers(pids);
    await removeDir(dir);
  });

  it('lists no faults on a healthy cluster', async () => {
    const list = await chaos('list');
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /node-1: no faults/);
    assert.match(list.stdout, /node-2: no faults/);
  });

  it('partitions a node from its peers: the gateway routes around it, and it serves again once healed', async () => {
    await eventually(async () => (await servedBy(6)).has('node-2'), { message: 'node-2 serving before the partition', timeoutMs: 20_000 });
    const cut = await chaos('partition', 'node-2', '--for', '60s');
    assert.equal(cut.code, 0, cut.stderr);
    assert.match(cut.stdout, /partitioned node-2 from gateway-1, node-1 for 60000 ms/);
    const during = await servedBy(20);
    assert.deepEqual([...during.keys()], ['node-1'], 'every call is served by the other node, and none fails');
    const listed = await chaos('list', 'node-2');
    assert.match(listed.stdout, /node-2: peer gateway-1, partition both, for 60000ms; peer node-1, partition both, for 60000ms/);

    const healed = await chaos('heal');
    assert.equal(healed.code, 0, healed.stderr);
    assert.match(healed.stdout, /healed node-1\nhealed node-2/);
    await eventually(async () => (await servedBy(6)).has('node-2'), { message: 'node-2 serving again after heal', timeoutMs: 20_000 });
  });

  it('slows a node and shows the latency where it is set', async () => {
    const slow = await chaos('slow', 'node-1', '--latency', '50ms', '--jitter', '5ms', '--for', '30s');
    assert.equal(slow.code, 0, slow.stderr);
    const listed = await chaos('list', 'node-1');
    assert.match(listed.stdout, /node-1: peer \*, latency 50ms \+5ms, for 30000ms/);
    assert.equal((await servedBy(4)).size > 0, true, 'calls still succeed, only later');
    await chaos('heal', 'node-1');
    assert.match((await chaos('list', 'node-1')).stdout, /node-1: no faults/);
  });

  it('kills a node with SIGKILL, and the supervisor restarts it', async () => {
    const before = processById(await cliStatus(dir), 'node-2');
    assert.ok(before?.pid);
    const kill = await chaos('kill', 'node-2');
    assert.equal(kill.code, 0, kill.stderr);
    assert.match(kill.stdout, new RegExp(`killed node-2 \\(pid ${before.pid}\\) with SIGKILL`));
    const after = await eventually(async () => {
      const status = await cliStatus(dir);
      remember(status);
      const node = processById(status, 'node-2');
      return node && node.pid !== before.pid && node.health === 'healthy' ? node : undefined;
    }, { message: 'node-2 restarted and healthy', timeoutMs: 60_000 });
    assert.ok(after.restarts >= 1);
  });

  it('refuses bad input with a message', async () => {
    const noNode = await chaos('partition');
    assert.equal(noNode.code, 2);
    assert.match(noNode.stderr, /needs a NODE/);
    const unknownAction = await chaos('dance', 'node-1');
    assert.equal(unknownAction.code, 2);
    assert.match(unknownAction.stderr, /unknown chaos action "dance"/);
    const noLatency = await chaos('slow', 'node-1');
    assert.equal(noLatency.code, 2);
    assert.match(noLatency.stderr, /needs --latency/);
    const badDuration = await chaos('partition', 'node-1', '--for', 'soon');
    assert.equal(badDuration.code, 2);
    assert.match(badDuration.stderr, /--for must be a duration/);
    const unknownNode = await chaos('partition', 'node-9', '--for', '1s');
    assert.equal(unknownNode.code, 1);
    assert.match(unknownNode.stderr, /no node "node-9"/);
  });
});
