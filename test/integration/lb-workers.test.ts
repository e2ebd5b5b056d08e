import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { freePort, send, startLb, startUpstream, type LbProcess, type TestUpstream } from '../support/lb-harness.ts';
import { eventually } from '../support/eventually.ts';

describe('shoal lb --workers', () => {
  let upstream: TestUpstream;
  let lb: LbProcess;

  before(async () => {
    upstream = await startUpstream('a');
    const port = await freePort();
    lb = await startLb(['--listen', `127.0.0.1:${port}`, '--upstream', upstream.url, '--workers', '2', '--admin', '127.0.0.1:0', '--no-access-log']);
  });
  after(async () => {
    await lb?.stop();
    await upstream?.close();
  });

  it('runs two worker processes sharing one listener', async () => {
    const pids = new Set<string>();
    // A fresh connection per request, so the primary hands connections to both workers.
    await eventually(async () => {
      const reply = await send(lb.urls[0], { agent: false });
      assert.equal(reply.status, 200);
      pids.add(String(reply.headers['x-shoal-lb-worker']));
      return pids.size === 2;
    }, { message: 'answers come from two workers', timeoutMs: 15_000, intervalMs: 50 });
    assert.ok(![...pids].includes(String(lb.child.pid)), 'workers, not the primary, answer');

    const metrics = (await send(`${lb.adminUrl!}/metrics`)).body;
    const served = /shoal_lb_upstream_requests_total\{[^}]*class="2xx"[^}]*\} (\d+)/.exec(metrics);
    assert.ok(served && Number(served[1]) >= 2, 'the primary serves the workers\' metrics, summed');
  });

  it('replaces a worker that dies', async () => {
    const pid = Number((await send(lb.urls[0], { agent: false })).headers['x-shoal-lb-worker']);
    process.kill(pid, 'SIGKILL');
    await lb.waitForStderr(/worker exited; starting another/);
    const pids = new Set<number>();
    await eventually(async () => {
      const reply = await send(lb.urls[0], { agent: false });
      if (reply.status === 200) pids.add(Number(reply.headers['x-shoal-lb-worker']));
      return pids.size === 2;
    }, { message: 'two workers answer again', timeoutMs: 15_000, intervalMs: 50 });
    assert.ok(!pids.has(pid));
  });

  it('stops every worker on SIGTERM and exits 0', async () => {
    assert.equal(await lb.stop(), 0);
  });
});
