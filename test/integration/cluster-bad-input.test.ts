import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { startCluster, type ClusterHandle } from '../../src/cluster/index.ts';
import type { ShoalError } from '../../src/core/index.ts';
import { createTcpTransport } from '../../src/transport/tcp/index.ts';
import { callGateway, callMany, countByNode, freePortBase, processById, removeDir, tempClusterDir } from '../support/cluster-harness.ts';

/** Writes bytes to a port and resolves once the peer has closed the connection. */
function sendAndAwaitClose(port: number, bytes: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(bytes));
    socket.on('data', () => undefined);
    socket.on('error', () => undefined);
    socket.on('close', () => resolve());
    setTimeout(() => reject(new Error('peer kept a connection that sent garbage open')), 10_000).unref();
  });
}

describe('bad input never takes the cluster down', () => {
  let cluster: ClusterHandle;
  let dir: string;
  let base: number;

  before(async () => {
    dir = await tempClusterDir();
    base = await freePortBase(2);
    cluster = await startCluster({ nodes: 2, dir, port: base });
  });
  after(async () => {
    await cluster?.stop();
    await removeDir(dir);
  });

  it('closes connections that send garbage, oversized frames or the wrong secret, and keeps serving', async () => {
    const before = processById(await cluster.status(), 'node-1');
    const nodePort = base + 101;
    await sendAndAwaitClose(nodePort, Buffer.from('GET / HTTP/1.1\r\nhost: x\r\n\r\n' + 'garbage'.repeat(100)));
    const oversized = Buffer.alloc(8);
    oversized.writeUInt32BE(0xffffffff, 0);
    await sendAndAwaitClose(nodePort, oversized);

    const intruder = createTcpTransport({ nodeId: 'intruder', secret: 'not-the-cluster-secret' });
    await assert.rejects(
      intruder.request({ host: '127.0.0.1', port: nodePort }, { k: 'call', s: '$node', v: 1, a: 'info', p: {}, m: { requestId: 'x' } }, { timeoutMs: 5_000 }),
      (err: ShoalError) => err.code === 'UNAUTHORIZED',
    );
    await intruder.close();

    const records = await callMany(60, 4, () => callGateway(cluster.gatewayUrl, 'links', 'create', { url: 'https://example.com/x' }));
    assert.deepEqual(records.filter((r) => !r.ok), []);
    assert.ok((countByNode(records).get('node-1') ?? 0) >= 20, 'node-1 still takes its share');
    const afterwards = processById(await cluster.status(), 'node-1');
    assert.equal(afterwards?.pid, before?.pid, 'node-1 did not crash');
    assert.equal(afterwards?.restarts, 0);
  });

  it('answers bad API calls with clear errors and loses no stored data', async () => {
    const created = await callGateway(cluster.gatewayUrl, 'links', 'create', { url: 'https://example.com/keep', alias: 'keep-me' }, { version: 2 });
    assert.equal(created.status, 200);

    const invalid = await callGateway(cluster.gatewayUrl, 'links', 'create', { url: 42, alias: '' }, { version: 2 });
    assert.equal(invalid.status, 422);
    const fields = (invalid.body as { error: { details: { fields: Array<{ field: string }> } } }).error.details.fields.map((f) => f.field).sort();
    assert.deepEqual(fields, ['alias', 'url']);
    assert.equal((await callGateway(cluster.gatewayUrl, 'nosuch', 'thing')).status, 404);
    assert.equal((await callGateway(cluster.gatewayUrl, 'links', 'create', { url: 'https://e.com' }, { version: 7 })).status, 404);
    const garbage = await fetch(`${cluster.gatewayUrl}/api/v1/links/create`, { method: 'POST', body: '\u0000\u0001not json' });
    assert.equal(garbage.status, 400);
    const huge = await fetch(`${cluster.gatewayUrl}/api/v1/links/create`, { method: 'POST', body: 'x'.repeat(2 * 1024 * 1024) });
    assert.equal(huge.status, 413);

    const resolved = await callGateway(cluster.gatewayUrl, 'links', 'resolve', { code: 'keep-me' }, { method: 'GET' });
    assert.deepEqual(resolved.body, { url: 'https://example.com/keep' });
  });
});
