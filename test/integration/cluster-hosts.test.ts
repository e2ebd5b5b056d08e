import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connectCoordinator, startCluster, type ClusterHandle } from '../../src/cluster/index.ts';
import type { MemberRecord } from '../../src/control/index.ts';
import { callGateway, freePortBase, processById, removeDir, tempClusterDir } from '../support/cluster-harness.ts';
import { eventually } from '../support/eventually.ts';

const config = join(import.meta.dirname, '../support/relay-cluster-config.ts');

/**
 * Processes placed at addresses other than 127.0.0.1 and started under a command prefix: what
 * the namespace fault tests rely on, checked here without root on other loopback addresses
 * (all of 127.0.0.0/8 is the machine itself on Linux) with `env` as the prefix.
 */
describe('a cluster whose processes listen at addresses of their own', { skip: process.platform !== 'linux' && 'needs Linux (127.0.0.0/8 on lo, /proc)', timeout: 120_000 }, () => {
  let cluster: ClusterHandle | undefined;
  let dir = '';

  before(async () => {
    dir = await tempClusterDir();
    cluster = await startCluster({
      nodes: 2,
      gateways: 1,
      dir,
      port: await freePortBase(2),
      config,
      controlHost: '127.0.0.3',
      nodeHost: (index) => `127.0.1.${index}`,
      spawnPrefix: (id) => ['env', `SHOAL_TEST_STARTED_AS=${id}`],
      stopGraceMs: 5_000,
    });
  });

  after(async () => {
    await cluster?.stop();
    if (dir) await removeDir(dir);
  });

  it('runs control and each node at the address it was given, and tells the others', async () => {
    assert.ok(cluster!.controlUrl.startsWith('http://127.0.0.3:'), cluster!.controlUrl);
    const status = await cluster!.status();
    assert.ok(processById(status, 'control')?.address.startsWith('127.0.0.3:'));
    for (const i of [1, 2]) {
      const node = processById(status, `node-${i}`);
      assert.equal(node?.health, 'healthy');
      assert.ok(node?.address.startsWith(`127.0.1.${i}:`) && node.url.startsWith(`http://127.0.1.${i}:`), JSON.stringify(node));
    }
    const secret = (await readFile(join(dir, 'secret'), 'utf8')).trim();
    const coordinator = connectCoordinator({ controlUrl: cluster!.controlUrl, secret });
    try {
      const members = (await coordinator.list('members/')).entries.map((e) => e.value as MemberRecord);
      assert.deepEqual(members.filter((m) => m.role === 'node').map((m) => [m.id, m.address?.host]), [['node-1', '127.0.1.1'], ['node-2', '127.0.1.2']]);
    } finally {
      await coordinator.close();
    }
  });

  it('starts every process under the prefix, which execs it in place', async () => {
    const status = await cluster!.status();
    for (const p of status.processes) {
      assert.ok(p.pid !== null);
      const environ = (await readFile(`/proc/${p.pid}/environ`, 'utf8')).split('\0');
      assert.ok(environ.includes(`SHOAL_TEST_STARTED_AS=${p.id}`), `${p.id} (pid ${p.pid}) was started through the prefix`);
      assert.match(await readFile(`/proc/${p.pid}/cmdline`, 'utf8'), /_run/, `pid ${p.pid} is the role process itself`);
    }
  });

  it('routes calls from the gateway and between nodes to the addresses the nodes advertise', async () => {
    // node-1 hosts relay only, node-2 where only: relay's answer crossed from 127.0.1.1 to 127.0.1.2.
    const answer = await eventually(async () => {
      const call = await callGateway(cluster!.gatewayUrl, 'relay', 'via', {});
      return call.ok ? call.body : undefined;
    }, { message: 'a relay call answering', timeoutMs: 15_000 });
    assert.deepEqual(answer, { relay: 'node-1', node: 'node-2' });
  });
});
