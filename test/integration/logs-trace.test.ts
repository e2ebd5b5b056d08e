/**
 * Logs a machine can follow: the gateway writes an access line per request, and one request
 * keeps one trace id from the gateway through the service into the shard it writes.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startCluster, type ClusterHandle } from '../../src/cluster/index.ts';
import { freePortBase, removeDir, tempClusterDir } from '../support/cluster-harness.ts';
import { eventually } from '../support/eventually.ts';

interface LogLine {
  msg: string;
  log?: string;
  traceId?: string;
  service?: string;
  action?: string;
  status?: number;
  method?: string;
  path?: string;
  durationMs?: number;
  node?: string;
}

async function lines(dir: string, file: string): Promise<LogLine[]> {
  const text = await readFile(join(dir, 'logs', file), 'utf8');
  return text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as LogLine);
}

describe('logs of one request', () => {
  let cluster: ClusterHandle;
  let dir: string;
  const previousLevel = process.env.SHOAL_LOG_LEVEL;

  before(async () => {
    dir = await tempClusterDir();
    // Served calls are logged at debug; the processes inherit this.
    process.env.SHOAL_LOG_LEVEL = 'debug';
    cluster = await startCluster({ nodes: 1, dir, port: await freePortBase(1) });
  });
  after(async () => {
    if (previousLevel === undefined) delete process.env.SHOAL_LOG_LEVEL;
    else process.env.SHOAL_LOG_LEVEL = previousLevel;
    await cluster?.stop();
    if (!process.env.KEEP) await removeDir(dir);
  });

  it('writes an access line at the gateway and carries one trace id into the shard write', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const response = await fetch(`${cluster.gatewayUrl}/api/v2/links/create`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
      body: JSON.stringify({ url: 'https://example.com/traced', alias: 'traced' }),
    });
    assert.equal(response.status, 200, await response.clone().text());

    const access = await eventually(async () => (await lines(dir, 'gateway-1.log')).find((l) => l.log === 'access' && l.traceId === traceId), { message: 'the access line' });
    assert.equal(access.method, 'POST');
    assert.equal(access.path, '/api/v2/links/create');
    assert.equal(access.status, 200);
    assert.equal(access.node, 'node-1');
    assert.equal(typeof access.durationMs, 'number');

    const served = await eventually(async () => {
      const node = await lines(dir, 'node-1.log');
      const create = node.find((l) => l.service === 'links' && l.action === 'create' && l.msg === 'call served');
      const shard = node.find((l) => l.service === '$data' && /^shard(Put|Batch|Get)$/.test(l.action ?? '') && l.traceId === traceId);
      return create && shard ? { create, shard } : undefined;
    }, { message: 'links.create and its shard call in the node log' });
    assert.equal(served.create.traceId, traceId);
    assert.equal(served.shard.traceId, traceId, 'the shard call is part of the same trace');
  });
});
