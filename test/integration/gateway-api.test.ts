import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type Gateway } from '../../src/gateway/index.ts';
import { startTracing } from '../../src/observe/index.ts';
import type { ServiceBroker } from '../../src/runtime/index.ts';
import { analytics, clickCounts, links, linksV1, linksV2 } from '../../examples/links/links.ts';
import { DataCluster } from '../support/data-cluster.ts';

describe('gateway API over a live cluster', () => {
  const cluster = new DataCluster({ collections: [links, clickCounts] });
  const harness = cluster.harness;
  let gateway: Gateway;
  let gatewayBroker: ServiceBroker;

  before(async () => {
    startTracing({ serviceName: 'test-gateway', nodeId: 'gw' });
    await harness.start();
    await cluster.addNode('n1', [], [linksV1, linksV2, analytics]);
    await cluster.addNode('n2', [], [linksV1, linksV2, analytics]);
    await cluster.waitBalanced();
    const broker = await harness.broker('gw', [], { listen: false, role: 'gateway' });
    gatewayBroker = broker;
    await harness.waitForEndpoints(broker, 'links', 2, 2);
    gateway = await startGateway({ id: 'gw', broker, port: 0, maxBodyBytes: 64 * 1024 });
  });
  after(async () => {
    await gateway?.close();
    await cluster.stop();
  });

  const post = (path: string, body: string, headers: Record<string, string> = {}) =>
    fetch(gateway.url + path, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });

  it('creates and resolves links in both versions, naming the serving node and the trace', async () => {
    const created = await post('/api/v2/links/create', JSON.stringify({ url: 'https://example.com/a', alias: 'ex-a' }));
    assert.equal(created.status, 200);
    assert.match(created.headers.get('x-shoal-node') ?? '', /^n[12]$/);
    assert.match(created.headers.get('traceparent') ?? '', /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
    assert.deepEqual(await created.json(), { code: 'ex-a', url: 'https://example.com/a' });

    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const resolved = await fetch(`${gateway.url}/api/v1/links/resolve?code=ex-a`, { headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` } });
    assert.equal(resolved.status, 200);
    assert.equal(resolved.headers.get('traceparent')?.split('-')[1], traceId, 'the caller trace is continued');
    assert.deepEqual(await resolved.json(), { url: 'https://example.com/a' });

    const taken = await post('/api/v2/links/create', JSON.stringify({ url: 'https://example.com/b', alias: 'ex-a' }));
    assert.equal(taken.status, 409);
    assert.equal(((await taken.json()) as { error: { code: string } }).error.code, 'CONFLICT');

    const v2 = await fetch(`${gateway.url}/api/v2/links/resolve?code=ex-a`);
    const body = (await v2.json()) as { url: string; clicks: number };
    assert.equal(body.url, 'https://example.com/a');
    assert.equal(typeof body.clicks, 'number');
  });

  it('answers 422 listing each bad field', async () => {
    const res = await post('/api/v2/links/create', JSON.stringify({ url: 'not a url', alias: 'bad alias!' }));
    assert.equal(res.status, 422);
    const body = (await res.json()) as { error: { code: string; details: { fields: Array<{ field: string }> } } };
    assert.equal(body.error.code, 'VALIDATION');
    assert.deepEqual(body.error.details.fields.map((f) => f.field).sort(), ['alias', 'url']);
  });

  it('answers 404 for an unknown code, service, version or action', async () => {
    for (const path of ['/api/v1/links/resolve?code=nope', '/api/v1/nosuch/thing', '/api/v9/links/resolve?code=x', '/api/v1/links/nosuch', '/elsewhere']) {
      const res = await fetch(gateway.url + path);
      assert.equal(res.status, 404, path);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'NOT_FOUND', path);
    }
  });

  it('refuses malformed and oversized bodies and keeps serving', async () => {
    const malformed = await post('/api/v1/links/create', '{"url": ');
    assert.equal(malformed.status, 400);
    assert.equal(((await malformed.json()) as { error: { code: string } }).error.code, 'BAD_REQUEST');
    const huge = await post('/api/v1/links/create', JSON.stringify({ url: 'https://example.com/' + 'x'.repeat(100 * 1024) }));
    assert.equal(huge.status, 413);
    const wrongMethod = await fetch(gateway.url + '/api/v1/links/create', { method: 'DELETE' });
    assert.equal(wrongMethod.status, 405);
    assert.equal(wrongMethod.headers.get('allow'), 'POST');
    const ok = await post('/api/v1/links/create', JSON.stringify({ url: 'https://example.com/after' }));
    assert.equal(ok.status, 200);
  });

  it('reports health', async () => {
    const res = await fetch(gateway.url + '/healthz');
    assert.equal(res.status, 200);
    const body = (await res.json()) as { status: string; nodes: number };
    assert.equal(body.status, 'healthy');
    assert.equal(body.nodes, 2);
  });

  it('serves the REST aliases services declare, with path params', async () => {
    const created = await fetch(`${gateway.url}/v2/links`, { method: 'POST', body: JSON.stringify({ url: 'https://example.com/rest', alias: 'rest-1' }) });
    assert.equal(created.status, 200);
    assert.deepEqual(await created.json(), { code: 'rest-1', url: 'https://example.com/rest' });
    const resolved = await fetch(`${gateway.url}/v1/links/rest-1`);
    assert.equal(resolved.status, 200);
    assert.match(resolved.headers.get('x-shoal-node') ?? '', /^n[12]$/);
    assert.deepEqual(await resolved.json(), { url: 'https://example.com/rest' });
    assert.equal((await fetch(`${gateway.url}/v1/links/missing-code`)).status, 404);
    const patched = await fetch(`${gateway.url}/v1/links/rest-1`, { method: 'PATCH', body: '{}' });
    assert.equal(patched.status, 405);
    assert.equal(patched.headers.get('allow'), 'GET');
  });

  it('publishes an OpenAPI 3.1 document generated from the action schemas', async () => {
    const res = await fetch(`${gateway.url}/openapi.json`);
    assert.equal(res.status, 200);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: { properties: Record<string, unknown>; required?: string[] } }> }; parameters?: Array<{ name: string; in: string }> }>> };
    assert.equal(doc.openapi, '3.1.0');
    const create = doc.paths['/api/v2/links/create'].post;
    const schema = create.requestBody!.content['application/json'].schema;
    assert.deepEqual(Object.keys(schema.properties).sort(), ['alias', 'url']);
    assert.deepEqual(schema.required, ['url']);
    assert.ok(doc.paths['/api/v1/links/resolve'].get.parameters!.some((p) => p.name === 'code' && p.in === 'query'));
    assert.ok(doc.paths['/v1/links/{code}'].get.parameters!.some((p) => p.name === 'code' && p.in === 'path'));
    assert.ok(doc.paths['/api/v1/analytics/clicks']);
    assert.equal(Object.keys(doc.paths).some((p) => p.includes('$node')), false, 'internal services stay out of the public API');
  });

  it('rate-limits per API key with 429 and Retry-After while other clients go on', async () => {
    const limited = await startGateway({ id: 'gw-limited', broker: gatewayBroker, port: 0, rateLimit: { ratePerSecond: 0.5, burst: 3, by: 'header', header: 'x-api-key' } });
    try {
      const call = (key: string) => fetch(`${limited.url}/api/v1/links/resolve?code=ex-a`, { headers: { 'x-api-key': key } });
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) statuses.push((await call('flooder')).status);
      assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
      const refused = await call('flooder');
      assert.equal(refused.status, 429);
      assert.ok(Number(refused.headers.get('retry-after')) >= 1);
      assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'RATE_LIMITED');
      assert.equal((await call('someone-else')).status, 200);
      assert.equal((await fetch(`${limited.url}/healthz`)).status, 200, 'health is never limited');
    } finally {
      await limited.close();
    }
  });
});
