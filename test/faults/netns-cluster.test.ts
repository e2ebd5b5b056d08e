/**
 * A cluster whose nodes each run in their own network namespace, with real packet loss between
 * them: control listens on the bridge address in the root namespace, the gateway runs there too,
 * and node-3 is cut off by the kernel's firewall rather than by a fault plan inside Shoal.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect, startCluster, type ClusterConnection, type ClusterHandle } from '../../src/cluster/index.ts';
import { callGateway, cliStatus, freePortBase, processById, removeDir, tempClusterDir, type CallRecord } from '../support/cluster-harness.ts';
import { eventually } from '../support/eventually.ts';
import { netnsSkipReason, TestNetwork } from '../support/netns.ts';

const skip = await netnsSkipReason();
const config = join(import.meta.dirname, '../support/relay-cluster-config.ts');
const NODES = 3;

describe('a cluster with each node in its own network namespace', { skip, timeout: 60_000 }, () => {
  let network: TestNetwork;
  let cluster: ClusterHandle | undefined;
  let client: ClusterConnection | undefined;
  let dir = '';

  before(async () => {
    network = await TestNetwork.create({ hosts: NODES });
    dir = await tempClusterDir();
    cluster = await startCluster({
      nodes: NODES,
      gateways: 1,
      dir,
      port: await freePortBase(NODES),
      config,
      controlHost: network.bridgeAddress,
      nodeHost: (index) => network.host(index).address,
      spawnPrefix: (id) => (id.startsWith('node-') ? network.execPrefix(network.host(Number(id.slice('node-'.length)))) : []),
      readyTimeoutMs: 30_000,
      stopGraceMs: 5_000,
    });
    const secret = (await readFile(join(dir, 'secret'), 'utf8')).trim();
    client = await connect({ controlUrl: cluster.controlUrl, secret, clientId: 'netns-test', callTimeoutMs: 2_000 });
  });

  after(async () => {
    // Healed first, so the nodes can stop as they would on a whole network.
    await network?.healAll().catch(() => undefined);
    await client?.close();
    await cluster?.stop();
    await network?.close();
    if (dir) await removeDir(dir);
  });

  const relay = (): Promise<CallRecord> => callGateway(cluster!.gatewayUrl, 'relay', 'via', {}, { timeoutMs: 5_000 });
  const nodeInfo = (node: string) => client!.caller.call('$node', 1, 'info', {}, { node, timeoutMs: 2_000 }) as Promise<{ nodeId: string }>;
  /** Nodes that answered relay calls (node-1 relaying to `where` on another node) until every one in `want` did. */
  const relayReaches = (want: string[]) => {
    const seen = new Set<string>();
    return eventually(async () => {
      const call = await relay();
      if (call.ok) seen.add((call.body as { node: string }).node);
      return want.every((n) => seen.has(n));
    }, { message: `relay calls reaching ${want.join(' and ')}`, timeoutMs: 15_000 });
  };

  it('runs each node at its namespace\'s address, and the nodes reach each other across the bridge', async () => {
    const status = await cliStatus(dir);
    for (let i = 1; i <= NODES; i++) {
      const node = processById(status, `node-${i}`);
      assert.equal(node?.health, 'healthy', `node-${i}: ${JSON.stringify(node)}`);
      assert.ok(node?.address.startsWith(`${network.host(i).address}:`), `node-${i} at ${node?.address}`);
    }
    assert.ok(processById(status, 'control')?.address.startsWith(`${network.bridgeAddress}:`));
    for (let i = 1; i <= NODES; i++) assert.equal((await nodeInfo(`node-${i}`)).nodeId, `node-${i}`);
    await relayReaches(['node-2', 'node-3']);
  });

  it('keeps serving through the other nodes while node-3 is partitioned, and takes node-3 back after', async () => {
    const cut = network.host(3);
    await network.partition(cut);

    // Calls addressed to node-3 alone fail with an error, not a hang.
    await assert.rejects(nodeInfo('node-3'), (err: { code?: unknown }) => typeof err.code === 'string', 'a call to the cut node');
    const down = await eventually(async () => processById(await cliStatus(dir), 'node-3')?.health === 'down', { message: 'status showing node-3 down', timeoutMs: 15_000, intervalMs: 200 });
    assert.ok(down);
    // Once membership has dropped node-3 (its lease runs out), every call goes to the others:
    // wait for a run of 20 that all succeed, none of them served by node-3.
    let run = 0;
    await eventually(async () => {
      const call = await relay();
      const node = call.ok ? (call.body as { node: string }).node : undefined;
      run = call.ok && node !== 'node-3' ? run + 1 : 0;
      return run >= 20;
    }, { message: '20 relay calls in a row served without node-3', timeoutMs: 20_000, intervalMs: 0 });
    assert.equal((await nodeInfo('node-2')).nodeId, 'node-2', 'node-2 answers during the partition');

    await network.rejoin(cut);
    await eventually(async () => processById(await cliStatus(dir), 'node-3')?.health === 'healthy', { message: 'node-3 healthy again', timeoutMs: 15_000, intervalMs: 200 });
    await eventually(async () => (await nodeInfo('node-3')).nodeId === 'node-3', { message: 'node-3 answering calls again', timeoutMs: 15_000, intervalMs: 200 });
    await relayReaches(['node-3']);
    // The same process all along: the partition did not make anyone restart it.
    assert.equal(processById(await cliStatus(dir), 'node-3')?.restarts, 0);
  });
});
