import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createMetrics, createObservabilityServer } from '../../src/observe/index.ts';
import type { ObservabilityServer } from '../../src/observe/index.ts';

let server: ObservabilityServer;

before(async () => {
  const metrics = createMetrics({ nodeId: 'node-1', role: 'control' });
  server = await createObservabilityServer({ port: 0, metrics, health: () => ({ status: 'ok', nodeId: 'node-1' }) });
});

after(() => server.close());

test('GET /metrics returns Prometheus text', async () => {
  const res = await fetch(`${server.url}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
  const body = await res.text();
  assert.match(body, /^# TYPE shoal_inbound_calls_total counter$/m);
  assert.match(body, /^nodejs_eventloop_lag_seconds\{node="node-1",role="control"\} \S+$/m);
});

test('GET /healthz returns the health document as JSON', async () => {
  const res = await fetch(`${server.url}/healthz?verbose=1`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  assert.deepEqual(await res.json(), { status: 'ok', nodeId: 'node-1' });
});

test('unknown routes and methods get a JSON 404', async () => {
  for (const [method, path] of [['GET', '/nope'], ['POST', '/metrics']]) {
    const res = await fetch(`${server.url}${path}`, { method });
    assert.equal(res.status, 404);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    const body = (await res.json()) as { error: { code: string } };
    assert.equal(body.error.code, 'NOT_FOUND');
  }
});
