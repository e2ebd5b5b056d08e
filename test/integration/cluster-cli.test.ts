import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ClusterStatus } from '../../src/cluster/index.ts';
import {
  CallerLoop,
  adminTokenOf,
  callGateway,
  cliStatus,
  describeFailures,
  freePortBase,
  isAlive,
  killLeftovers,
  processById,
  removeDir,
  runCli,
  tempClusterDir,
} from '../support/cluster-harness.ts';
import { eventually } from '../support/eventually.ts';

describe('the shoal CLI', { timeout: 180_000 }, () => {
  let dir = '';
  let port = 0;
  let gateway = '';
  // Every pid the cluster ever had, so the after() hook can make sure none outlives the test.
  const pids = new Set<number>();
  const remember = (status: ClusterStatus) => {
    pids.add(status.supervisorPid);
    for (const p of status.processes) if (p.pid !== null) pids.add(p.pid);
  };

  before(async () => {
    dir = await tempClusterDir();
    port = await freePortBase();
  });

  after(async () => {
    if ([...pids].some(isAlive)) await runCli(['down', '--dir', dir]);
    killLeftovers(pids);
    await removeDir(dir);
  });

  it('starts a cluster in the background with up --detach', async () => {
    const result = await runCli(['up', '--detach', '--dir', dir, '--port', String(port)], 120_000);
    assert.equal(result.code, 0, `up --detach failed:\n${result.stdout}\n${result.stderr}`);
    gateway = `http://127.0.0.1:${port}`;
    assert.match(result.stdout, new RegExp(`gateway: +${gateway}`));
    assert.match(result.stdout, /dashboard: +http:\/\/127\.0\.0\.1:\d+\//);
    const state = JSON.parse(await readFile(join(dir, 'supervisor.json'), 'utf8')) as { pid: number };
    pids.add(state.pid);
  });

  it('refuses a second up on the same directory', async () => {
    const result = await runCli(['up', '--detach', '--dir', dir, '--port', String(port + 300)]);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /already running/);
  });

  it('reports the cluster with status --json', async () => {
    // A /healthz probe gets one second; on a loaded machine one may miss it, so a few tries.
    const status = await eventually(async () => {
      const current = await cliStatus(dir);
      return current.processes.every((p) => p.health === 'healthy') ? current : undefined;
    }, { message: 'every process healthy', timeoutMs: 15_000, intervalMs: 200 }).catch(() => cliStatus(dir));
    remember(status);
    assert.equal(status.gateway, gateway);
    assert.deepEqual(status.processes.map((p) => p.id), ['control', 'node-1', 'node-2', 'node-3', 'gateway-1']);
    for (const p of status.processes) assert.equal(p.health, 'healthy', `${p.id} is ${p.health}`);
    const text = await runCli(['status', '--dir', dir]);
    assert.equal(text.code, 0);
    assert.match(text.stdout, /node-3\s+node\s+\d+/);
  });

  it('calls an action through the gateway with call', async () => {
    const result = await runCli(['call', 'links.create', '{"url":"https://example.com"}', '--version', '2', '--dir', dir]);
    assert.equal(result.code, 0, result.stderr);
    const body = JSON.parse(result.stdout) as { code: string; url: string };
    assert.equal(body.url, 'https://example.com');
    assert.equal(typeof body.code, 'string');
    assert.match(result.stderr, /x-shoal-node: node-\d/);

    const resolved = await runCli(['call', 'links.resolve', JSON.stringify({ code: body.code }), '--dir', dir]);
    assert.equal(resolved.code, 0, resolved.stderr);
    assert.equal((JSON.parse(resolved.stdout) as { url: string }).url, 'https://example.com');

    const missing = await runCli(['call', 'links.resolve', '{"code":"no-such-code"}', '--dir', dir]);
    assert.equal(missing.code, 1);
    assert.equal((JSON.parse(missing.stdout) as { error: { code: string } }).error.code, 'NOT_FOUND');
  });

  it('adds a node with scale 4', async () => {
    const result = await runCli(['scale', '4', '--dir', dir]);
    assert.equal(result.code, 0, result.stderr);
    const status = await eventually(async () => {
      const current = await cliStatus(dir);
      return processById(current, 'node-4')?.health === 'healthy' ? current : undefined;
    }, { message: 'node-4 healthy', timeoutMs: 15_000, intervalMs: 200 }).catch(() => cliStatus(dir));
    remember(status);
    assert.equal(processById(status, 'node-4')?.health, 'healthy');
    await eventually(async () => (await callGateway(gateway, 'links', 'create', { url: 'https://example.com/4' })).node === 'node-4', { message: 'node-4 serving calls', timeoutMs: 20_000, intervalMs: 20 });
  });

  it('spreads data slots over the new node with rebalance, showing progress', async () => {
    const result = await runCli(['rebalance', '--dir', dir], 120_000);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /moves|balanced|idle/);
    const status = await cliStatus(dir);
    assert.ok(status.rebalance, 'status --json reports the rebalancer');
    assert.equal(status.rebalance.state, 'idle');
  });

  it('drains a node with scale 3 while callers see no errors', async () => {
    const node4 = processById(await cliStatus(dir), 'node-4');
    assert.ok(node4?.pid);
    const loop = new CallerLoop(2, (i) =>
      i % 2 === 0 ? callGateway(gateway, '$node', 'info', {}, { adminToken: adminTokenOf(dir) }) : callGateway(gateway, 'links', 'create', { url: `https://example.com/scale/${i}` }),
    );
    const result = await runCli(['scale', '3', '--dir', dir]);
    const history = await loop.stop();
    assert.equal(result.code, 0, result.stderr);
    assert.ok(history.length > 0);
    assert.deepEqual(history.filter((r) => !r.ok), [], `calls failed during scale-down:\n${describeFailures(history)}`);
    // node-4 handed its data over before it stopped: every link created, before or during, still resolves.
    const created = history.filter((r) => r.op.endsWith('links.create')).map((r) => r.body as { code: string; url: string });
    assert.ok(created.length > 0);
    for (const link of created) {
      const resolved = await callGateway(gateway, 'links', 'resolve', { code: link.code }, { method: 'GET' });
      assert.equal(resolved.status, 200, `link ${link.code} lost after scale-down: ${resolved.error}`);
      assert.deepEqual(resolved.body, { url: link.url });
    }
    const status = await cliStatus(dir);
    assert.deepEqual(status.processes.filter((p) => p.role === 'node').map((p) => p.id), ['node-1', 'node-2', 'node-3']);
    assert.equal(isAlive(node4.pid), false, 'node-4 is gone');
  });

  it('stops every process with down', async () => {
    remember(await cliStatus(dir));
    const result = await runCli(['down', '--dir', dir], 90_000);
    assert.equal(result.code, 0, result.stderr);
    const alive = [...pids].filter(isAlive);
    assert.deepEqual(alive, [], `processes still alive after down: ${alive.join(', ')}`);
    const status = await runCli(['status', '--dir', dir]);
    assert.notEqual(status.code, 0);
  });

  it('rejects bad input with a message', async () => {
    const badJson = await runCli(['call', 'links.create', '{bad json', '--dir', dir]);
    assert.equal(badJson.code, 2);
    assert.match(badJson.stderr, /not valid JSON/);

    const empty = await tempClusterDir();
    try {
      const status = await runCli(['status', '--dir', empty]);
      assert.notEqual(status.code, 0);
      assert.match(status.stderr, /no cluster is running/);
      assert.equal(status.stdout, '');
    } finally {
      await removeDir(empty);
    }

    const unknown = await runCli(['frobnicate']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command/);
    const badFlag = await runCli(['status', '--bogus']);
    assert.equal(badFlag.code, 2);
    assert.match(badFlag.stderr, /usage:/);
  });
});
