import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startCluster, type ClusterHandle } from '../../src/cluster/index.ts';
import { callGateway, callMany, cliStatus, countByNode, describeFailures, freePortBase, removeDir, tempClusterDir } from '../support/cluster-harness.ts';
import { eventually } from '../support/eventually.ts';

describe('a local cluster of three nodes', { timeout: 90_000 }, () => {
  let cluster: ClusterHandle | undefined;
  let dir = '';

  before(async () => {
    dir = await tempClusterDir();
    cluster = await startCluster({ nodes: 3, gateways: 1, dir, port: await freePortBase() });
  });

  after(async () => {
    await cluster?.stop();
    await removeDir(dir);
  });

  it('spreads calls through the gateway over every node', async () => {
    const gateway = cluster!.gatewayUrl;
    const records = await callMany(300, 8, (i) => callGateway(gateway, 'links', 'create', { url: `https://example.com/spread/${i}` }));
    assert.equal(records.filter((r) => !r.ok).length, 0, `failed calls:\n${describeFailures(records)}`);
    const counts = countByNode(records);
    for (const node of ['node-1', 'node-2', 'node-3']) {
      const served = counts.get(node) ?? 0;
      assert.ok(served >= 60, `${node} served ${served} of 300 calls (want at least 20%): ${JSON.stringify([...counts])}`);
    }
  });

  it('reports every process healthy through `shoal status --json`', async () => {
    // A /healthz probe gets one second; on a loaded machine one may miss it, so a few tries.
    const status = await eventually(async () => {
      const current = await cliStatus(dir);
      return current.processes.every((p) => p.health === 'healthy') ? current : undefined;
    }, { message: 'every process healthy', timeoutMs: 15_000, intervalMs: 200 }).catch(() => cliStatus(dir));
    assert.equal(status.gateway, cluster!.gatewayUrl);
    assert.deepEqual(
      status.processes.map((p) => [p.id, p.role]),
      [
        ['control', 'control'],
        ['node-1', 'node'],
        ['node-2', 'node'],
        ['node-3', 'node'],
        ['gateway-1', 'gateway'],
      ],
    );
    for (const p of status.processes) {
      assert.equal(p.health, 'healthy', `${p.id} is ${p.health}`);
      assert.ok(Number.isInteger(p.pid) && p.pid! > 0, `${p.id} has pid ${p.pid}`);
      assert.equal(p.restarts, 0);
    }
    for (const node of status.processes.filter((p) => p.role === 'node')) {
      assert.ok(node.services.includes('links@1') && node.services.includes('links@2'), `${node.id} lists ${node.services.join(', ')}`);
    }
  });
});
