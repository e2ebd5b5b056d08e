import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type { ClusterStatus } from '../../src/cluster/index.ts';
import { callGateway, cliEntry, cliStatus, freePortBase, isAlive, killLeftovers, removeDir, repoRoot, tempClusterDir } from '../support/cluster-harness.ts';
import { eventually } from '../support/eventually.ts';

/**
 * `shoal up` in the foreground, stopped the way a terminal's Ctrl-C stops it: SIGINT to the whole
 * process group, so every child receives it at the same moment as the supervisor.
 */
describe('shoal up in the foreground', { timeout: 180_000 }, () => {
  let dir = '';
  let port = 0;
  let up: ChildProcess | undefined;
  let stdout = '';
  const pids = new Set<number>();

  before(async () => {
    dir = await tempClusterDir();
    port = await freePortBase();
  });

  after(async () => {
    if (up?.pid !== undefined) pids.add(up.pid);
    killLeftovers(pids);
    await removeDir(dir);
  });

  it('prints its progress, serves, and leaves no process behind after Ctrl-C', async () => {
    // detached: a process group of its own, as a shell gives a foreground job.
    up = spawn(process.execPath, [cliEntry, 'up', '--dir', dir, '--port', String(port)], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    up.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    up.stderr!.resume();
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      up!.once('exit', (code, signal) => resolve({ code, signal }));
    });

    await eventually(() => stdout.includes('cluster ready'), { message: 'cluster ready', timeoutMs: 120_000, intervalMs: 200 });
    for (const id of ['control', 'node-1', 'node-2', 'node-3', 'gateway-1']) {
      assert.match(stdout, new RegExp(`starting ${id} on 127\\.0\\.0\\.1:\\d+ … ready`), `progress line for ${id}`);
    }
    assert.match(stdout, new RegExp(`gateway: +http://127\\.0\\.0\\.1:${port}`));

    const status: ClusterStatus = await cliStatus(dir);
    pids.add(status.supervisorPid);
    for (const p of status.processes) if (p.pid !== null) pids.add(p.pid);
    assert.equal(status.processes.length, 5);

    const created = await callGateway(`http://127.0.0.1:${port}`, 'links', 'create', { url: 'https://example.com/fg' }, { version: 2 });
    assert.equal(created.status, 200, JSON.stringify(created.body));

    process.kill(-up.pid!, 'SIGINT');
    const { code } = await exited;
    assert.equal(code, 0, `shoal up exited with ${code}:\n${stdout}`);
    assert.match(stdout, /cluster stopped/);
    await eventually(() => [...pids].every((pid) => !isAlive(pid)), { message: 'every process of the cluster to exit', timeoutMs: 30_000, intervalMs: 200 });
  });
});
