import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { describeProcess } from '../../src/cluster/supervisor.ts';

const spec = { role: 'node' as const, address: '127.0.0.1:7501', url: 'http://127.0.0.1:7601' };
const answering = (health: string) => async () => ({ health, services: ['links@1'] });

describe('a process in the status', () => {
  it('is down while a replacement runs but has not said it is ready, whatever its /healthz answers', async () => {
    const snapshot = { pid: 4242, ready: false, restarts: 1, startedAt: '2026-12-01T10:00:00.000Z' };
    for (const health of ['starting', 'healthy']) {
      const line = await describeProcess('node-2', spec, snapshot, answering(health));
      assert.equal(line.health, 'down', `a replacement answering ${health}`);
      assert.equal(line.pid, 4242);
      assert.equal(line.restarts, 1);
    }
  });

  it('is what its /healthz says once it is ready, and down without a process', async () => {
    const ready = await describeProcess('node-2', spec, { pid: 4242, ready: true, restarts: 1, startedAt: null }, answering('healthy'));
    assert.equal(ready.health, 'healthy');
    assert.deepEqual(ready.services, ['links@1']);
    const gone = await describeProcess('node-2', spec, { pid: null, ready: false, restarts: 1, startedAt: null }, answering('healthy'));
    assert.equal(gone.health, 'down');
  });
});
