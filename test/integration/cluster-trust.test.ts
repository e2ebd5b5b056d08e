/**
 * The trust boundary: the public gateway serves user services only. Built-in services, the
 * supervisor's admin API and the dashboard answer only to the cluster's admin token.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { startCluster, type ClusterHandle } from '../../src/cluster/index.ts';
import { callGateway, removeDir, tempClusterDir, freePortBase, type CallRecord } from '../support/cluster-harness.ts';

function errorCode(record: CallRecord): unknown {
  return (record.body as { error?: { code?: unknown } } | undefined)?.error?.code;
}

describe('the trust boundary', () => {
  let cluster: ClusterHandle;
  let dir: string;
  let token: string;

  before(async () => {
    dir = await tempClusterDir();
    cluster = await startCluster({ nodes: 2, dir, port: await freePortBase(2) });
    token = cluster.adminToken;
    const created = await callGateway(cluster.gatewayUrl, 'links', 'create', { url: 'https://example.com/kept', alias: 'kept' }, { version: 2 });
    assert.equal(created.status, 200, created.error);
  });
  after(async () => {
    await cluster?.stop();
    await removeDir(dir);
  });

  it('generates the admin token into the cluster directory, readable by its owner only', async () => {
    assert.match(token, /^[0-9a-f]{64}$/);
    const mode = (await stat(join(dir, 'admin-token'))).mode & 0o777;
    assert.equal(mode, 0o600);
  });

  it('refuses built-in services through the public gateway without the token, and changes nothing', async () => {
    const gateway = cluster.gatewayUrl;
    const map = await callGateway(gateway, '$data', 'map', {}, { adminToken: token });
    assert.equal(map.status, 200, map.error);
    const mapVersion = (map.body as { version: number }).version;

    const attempts = [
      await callGateway(gateway, '$data', 'query', { collection: 'links', query: {} }),
      await callGateway(gateway, '$data', 'shardPut', { collection: 'links', slot: 0, mapVersion, key: 'intruder', id: 'intruder', doc: { code: 'intruder', url: 'https://evil.example' } }),
      await callGateway(gateway, '$data', 'dropSlots', { shard: 1, mapVersion, first: 0, last: 4095 }),
      await callGateway(gateway, '$node', 'info', {}, { method: 'GET' }),
      await callGateway(gateway, '$node', 'info', {}, { adminToken: 'not-the-admin-token-at-all' }),
    ];
    for (const attempt of attempts) {
      assert.equal(attempt.status, 401, `${attempt.op}: ${attempt.error}`);
      assert.equal(errorCode(attempt), 'UNAUTHORIZED', attempt.op);
      assert.equal(attempt.node, null, `${attempt.op} must not reach a node`);
    }

    // Nothing was written and nothing was dropped.
    const intruder = await callGateway(gateway, '$data', 'get', { collection: 'links', key: 'intruder' }, { adminToken: token });
    assert.equal(intruder.status, 200, intruder.error);
    assert.equal(intruder.body, null);
    const kept = await callGateway(gateway, 'links', 'resolve', { code: 'kept' }, { method: 'GET' });
    assert.equal(kept.status, 200, kept.error);
    assert.equal((kept.body as { url: string }).url, 'https://example.com/kept');
  });

  it('serves built-in services to a request that presents the token', async () => {
    const info = await callGateway(cluster.gatewayUrl, '$node', 'info', {}, { adminToken: token });
    assert.equal(info.status, 200, info.error);
    assert.match(String((info.body as { nodeId?: unknown }).nodeId), /^node-\d$/);
    const query = await callGateway(cluster.gatewayUrl, '$data', 'query', { collection: 'links', query: { where: { code: 'kept' } } }, { adminToken: token });
    assert.equal(query.status, 200, query.error);
    assert.equal(JSON.stringify(query.body).includes('https://example.com/kept'), true, JSON.stringify(query.body));
  });

  it('keeps built-in services out of the public OpenAPI document', async () => {
    const doc = (await (await fetch(`${cluster.gatewayUrl}/openapi.json`)).json()) as { paths: Record<string, unknown> };
    assert.equal(Object.keys(doc.paths).some((p) => p.includes('$')), false);
  });

  it('does not stop the cluster on an admin request without the token', async () => {
    for (const headers of [{}, { authorization: 'Bearer wrong-token-wrong-token' }]) {
      const stop = await fetch(`${cluster.adminUrl}/stop`, { method: 'POST', headers });
      assert.equal(stop.status, 401);
      const scale = await fetch(`${cluster.adminUrl}/scale`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: '{"nodes":1}' });
      assert.equal(scale.status, 401);
      const status = await fetch(`${cluster.adminUrl}/status`, { headers });
      assert.equal(status.status, 401);
    }
    const health = await fetch(`${cluster.adminUrl}/healthz`);
    assert.equal(health.status, 200);
    const status = await fetch(`${cluster.adminUrl}/status`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(status.status, 200);
    const body = (await status.json()) as { state: string; processes: unknown[] };
    assert.equal(body.state, 'running');
    assert.equal(body.processes.length, 4, 'control, two nodes and the gateway are all still there');
    const call = await callGateway(cluster.gatewayUrl, 'links', 'resolve', { code: 'kept' }, { method: 'GET' });
    assert.equal(call.status, 200, call.error);
  });

  it('shows the dashboard only after the one-click login URL', async () => {
    for (const path of ['/', '/dashboard', '/dashboard/cluster.json']) {
      const refused = await fetch(new URL(path, cluster.dashboardUrl));
      assert.equal(refused.status, 401, path);
      assert.equal((await refused.text()).includes('node-1'), false, `${path} leaks the member list`);
    }
    const wrong = await fetch(`${cluster.dashboardUrl}?token=nope`, { redirect: 'manual' });
    assert.equal(wrong.status, 401);

    assert.equal(cluster.dashboardLoginUrl.includes(encodeURIComponent(token)), true);
    const login = await fetch(cluster.dashboardLoginUrl, { redirect: 'manual' });
    assert.equal(login.status, 303);
    assert.equal(login.headers.get('location'), '/', 'the token leaves the address bar');
    const cookie = login.headers.get('set-cookie') ?? '';
    assert.match(cookie, /HttpOnly/);
    const session = cookie.split(';')[0];

    const page = await fetch(cluster.dashboardUrl, { headers: { cookie: session } });
    assert.equal(page.status, 200);
    const members = await fetch(new URL('/dashboard/cluster.json', cluster.dashboardUrl), { headers: { cookie: session } });
    assert.equal(members.status, 200);
    const listed = ((await members.json()) as { members: Array<{ id: string }> }).members.map((m) => m.id);
    assert.ok(listed.includes('node-1'), JSON.stringify(listed));

    const health = await fetch(new URL('/healthz', cluster.controlUrl));
    assert.equal(health.status, 200, '/healthz stays open');
    const metrics = await fetch(new URL('/metrics', cluster.controlUrl));
    assert.equal(metrics.status, 200, '/metrics stays open');
  });
});
