import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connectCoordinator, type ClusterStatus } from '../../src/cluster/index.ts';
import type { MemberRecord } from '../../src/control/index.ts';
import { cliStatus, freePortBase, isAlive, killLeftovers, processById, removeDir, runCli, tempClusterDir } from '../support/cluster-harness.ts';
import { eventually } from '../support/eventually.ts';

describe('shoal up --zones', { timeout: 180_000 }, () => {
  let dir = '';
  let port = 0;
  const pids = new Set<number>();
  const remember = (status: ClusterStatus) => {
    pids.add(status.supervisorPid);
    for (const p of status.processes) if (p.pid !== null) pids.add(p.pid);
  };
  const zonesOf = (status: ClusterStatus) => Object.fromEntries(status.processes.map((p) => [p.id, p.zone]));

  before(async () => {
    dir = await tempClusterDir();
    port = await freePortBase(4);
    const result = await runCli(['up', '--detach', '--zones', 'a,b', '--nodes', '3', '--dir', dir, '--port', String(port)], 120_000);
    assert.equal(result.code, 0, `up --detach --zones failed:\n${result.stdout}\n${result.stderr}`);
  });

  after(async () => {
    if ([...pids].some(isAlive)) await runCli(['down', '--dir', dir]);
    killLeftovers(pids);
    await removeDir(dir);
  });

  it('spreads the nodes over the zones round-robin, as status --json shows', async () => {
    const status = await cliStatus(dir);
    remember(status);
    assert.deepEqual(zonesOf(status), { control: undefined, 'node-1': 'a', 'node-2': 'b', 'node-3': 'a', 'gateway-1': undefined });
  });

  it('shows a zone column in the status table', async () => {
    const result = await runCli(['status', '--dir', dir]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^ID\s+ROLE\s+ZONE\s+PID/m);
    assert.match(result.stdout, /^node-2\s+node\s+b\s/m);
    assert.match(result.stdout, /^control\s+control\s+-\s/m);
  });

  it('publishes each node\'s zone in its member record', async () => {
    const state = JSON.parse(await readFile(join(dir, 'supervisor.json'), 'utf8')) as { controlUrl: string };
    const secret = (await readFile(join(dir, 'secret'), 'utf8')).trim();
    const coordinator = connectCoordinator({ controlUrl: state.controlUrl, secret });
    try {
      const { entries } = await coordinator.list('members/');
      const zones = Object.fromEntries(entries.map((e) => e.value as MemberRecord).filter((m) => m.role === 'node').map((m) => [m.id, m.zone]));
      assert.deepEqual(zones, { 'node-1': 'a', 'node-2': 'b', 'node-3': 'a' });
    } finally {
      await coordinator.close();
    }
  });

  it('puts a node added by scale in the next zone', async () => {
    const result = await runCli(['scale', '4', '--dir', dir], 120_000);
    assert.equal(result.code, 0, `scale failed:\n${result.stdout}\n${result.stderr}`);
    const status = await eventually(async () => {
      const current = await cliStatus(dir);
      return processById(current, 'node-4')?.health === 'healthy' ? current : undefined;
    }, { message: 'node-4 healthy', timeoutMs: 60_000, intervalMs: 200 });
    remember(status);
    assert.equal(processById(status, 'node-4')?.zone, 'b');
  });

  it('refuses a bad zone list before starting anything', async () => {
    for (const zones of ['a,,b', 'Zone-A', 'a,a', 'a b']) {
      const result = await runCli(['up', '--zones', zones, '--dir', join(dir, 'never'), '--port', String(port)]);
      assert.equal(result.code, 2, `--zones ${zones}: ${result.stdout}${result.stderr}`);
      assert.match(result.stderr, /--zones: /);
    }
  });
});
