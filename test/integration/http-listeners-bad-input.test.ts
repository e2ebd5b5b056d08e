/**
 * Malformed input at every Node-based HTTP listener of a running cluster (gateway, node
 * HTTP, control, supervisor admin): each answers with the fitting 4xx/5xx and a short JSON
 * message, cuts a slow head with 408, and the cluster keeps its processes and its data.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { startCluster, type ClusterHandle } from '../../src/cluster/index.ts';
import { signRequest, SIGNATURE_HEADER, TIME_HEADER } from '../../src/control/embedded/auth.ts';
import { callGateway, freePortBase, removeDir, tempClusterDir } from '../support/cluster-harness.ts';
import { eventually } from '../support/eventually.ts';

interface RawAnswer {
  status: number;
  head: string;
  body: string;
  closed: boolean;
}

/** Sends raw bytes and reads the answer: until the peer closes, or until `waitMs` after the first byte of the answer. */
function raw(port: number, bytes: string | Buffer, options: { waitMs?: number; keepSendingMs?: number } = {}): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(bytes));
    let text = '';
    let settled = false;
    const finish = (closed: boolean) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      const [head, ...rest] = text.split('\r\n\r\n');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
      resolve({ status, head, body: rest.join('\r\n\r\n'), closed });
    };
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1');
      setTimeout(() => finish(false), options.waitMs ?? 300).unref();
    });
    socket.on('error', () => finish(true));
    socket.on('close', () => finish(true));
    setTimeout(() => (settled ? undefined : reject(new Error(`no answer on port ${port} to ${JSON.stringify(String(bytes).slice(0, 60))}`))), 30_000).unref();
  });
}

function errorCodeOf(answer: RawAnswer): unknown {
  try {
    return (JSON.parse(answer.body) as { error?: { code?: unknown } }).error?.code;
  } catch {
    return undefined;
  }
}

describe('malformed input at every HTTP listener of a cluster', () => {
  let cluster: ClusterHandle;
  let dir: string;
  let listeners: Record<string, number>;
  let pidsBefore: Map<string, number | null>;

  before(async () => {
    dir = await tempClusterDir();
    const base = await freePortBase(2);
    cluster = await startCluster({ nodes: 2, dir, port: base });
    listeners = { gateway: base, control: base + 50, admin: base + 51, 'node-1 http': base + 201 };
    const created = await callGateway(cluster.gatewayUrl, 'links', 'create', { url: 'https://example.com/survivor', alias: 'survivor' }, { version: 2 });
    assert.equal(created.status, 200, created.error);
    pidsBefore = new Map((await cluster.status()).processes.map((p) => [p.id, p.pid]));
  });
  after(async () => {
    await cluster?.stop();
    await removeDir(dir);
  });

  it('refuses what Node parses but nothing here serves, on every listener', async () => {
    const cases: Array<{ name: string; bytes: string; status: number; code?: string }> = [
      { name: 'an unparseable target', bytes: 'GET http://[::1/x HTTP/1.1\r\nHost: a\r\n\r\n', status: 400, code: 'BAD_REQUEST' },
      { name: 'HTTP/2.0 in the request line', bytes: 'GET /healthz HTTP/2.0\r\nHost: a\r\n\r\n', status: 505, code: 'VERSION_NOT_SUPPORTED' },
      { name: 'HTTP/0.9 in the request line', bytes: 'GET /healthz HTTP/0.9\r\nHost: a\r\n\r\n', status: 505 },
      { name: 'no version', bytes: 'GET /healthz\r\nHost: a\r\n\r\n', status: 505 },
      { name: 'two Host headers', bytes: 'GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', status: 400, code: 'BAD_REQUEST' },
      { name: 'a transfer coding other than chunked', bytes: 'POST /healthz HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n', status: 501, code: 'NOT_IMPLEMENTED' },
      { name: 'a 20 KB header', bytes: `GET /healthz HTTP/1.1\r\nHost: a\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`, status: 431, code: 'HEADERS_TOO_LARGE' },
    ];
    for (const [listener, port] of Object.entries(listeners)) {
      for (const c of cases) {
        const answer = await raw(port, c.bytes);
        assert.equal(answer.status, c.status, `${listener}, ${c.name}: ${answer.head.split('\r\n')[0]} ${answer.body.slice(0, 200)}`);
        if (c.code) assert.equal(errorCodeOf(answer), c.code, `${listener}, ${c.name}: ${answer.body.slice(0, 200)}`);
      }
    }
  });

  it('cuts a slow request head with 408 on every listener', async () => {
    const answers = await Promise.all(
      Object.entries(listeners).map(async ([listener, port]) => ({ listener, answer: await raw(port, 'GET /healthz HTTP/1.1\r\nHost: a\r\nx-slow: ') })),
    );
    for (const { listener, answer } of answers) {
      assert.equal(answer.status, 408, `${listener}: ${answer.head}`);
      assert.equal(errorCodeOf(answer), 'REQUEST_TIMEOUT', listener);
    }
  });

  it('answers malformed escapes, wrong methods, deep JSON and lone surrogates at the gateway as client errors', async () => {
    const gateway = listeners.gateway;
    for (const path of ['/v2/links/%', '/api/v1/%zz/create', '/v1/links/%E0%A4%A']) {
      const answer = await raw(gateway, `GET ${path} HTTP/1.1\r\nHost: a\r\n\r\n`);
      assert.equal(answer.status, 400, `${path}: ${answer.body}`);
      assert.match(answer.body, /percent-encoding/);
    }
    const del = await raw(gateway, 'DELETE /api/v1/links/create HTTP/1.1\r\nHost: a\r\n\r\n');
    assert.equal(del.status, 405);
    assert.match(del.head, /\r\nallow: POST\r\n/i);
    const put = await raw(gateway, 'PUT /v1/links/survivor HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n');
    assert.equal(put.status, 405, put.body);
    assert.match(put.head, /\r\nallow: GET/i);

    const deep = '['.repeat(3000) + ']'.repeat(3000);
    const nested = await fetch(`${cluster.gatewayUrl}/api/v1/links/create`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"url":${deep}}` });
    assert.equal(nested.status, 400);
    assert.match(await nested.text(), /nested deeper than 64 levels/);

    const surrogate = await fetch(`${cluster.gatewayUrl}/api/v2/links/create`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"url":"https://a.com/\\ud800x","alias":"lone"}' });
    assert.equal(surrogate.status, 422, await surrogate.clone().text());
    assert.equal(((await surrogate.json()) as { error: { code: string } }).error.code, 'VALIDATION');
    const stored = await callGateway(cluster.gatewayUrl, 'links', 'resolve', { code: 'lone' }, { method: 'GET' });
    assert.equal(stored.status, 404, 'nothing was stored in its place');
  });

  it('refuses a signed coordinator write nested 60 000 levels deep with 400', async () => {
    const secret = (await readFile(join(dir, 'secret'), 'utf8')).trim();
    const body = `{"key":"deep","value":${'['.repeat(60_000)}${']'.repeat(60_000)}}`;
    const time = String(Date.now());
    const response = await fetch(`${cluster.controlUrl}/v1/kv/put`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [TIME_HEADER]: time, [SIGNATURE_HEADER]: signRequest(secret, 'POST', '/v1/kv/put', time, body) },
      body,
    });
    assert.equal(response.status, 400);
    assert.match(await response.text(), /nested/);
  });

  it('logs a client that leaves mid-body as an abort, not as a failed call', async () => {
    const gateway = listeners.gateway;
    await new Promise<void>((resolve) => {
      const socket = connect(gateway, '127.0.0.1', () => {
        socket.write('POST /api/v1/links/create HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"url":');
        setTimeout(() => {
          socket.destroy();
          resolve();
        }, 200);
      });
      socket.on('error', () => undefined);
    });
    const log = join(dir, 'logs', 'gateway-1.log');
    await eventually(async () => (await readFile(log, 'utf8')).includes('client aborted the request mid-body'), { message: 'the abort in the gateway log' });
    assert.doesNotMatch(await readFile(log, 'utf8'), /"call failed"/);
  });

  it('keeps every process with the same pid, the data intact, and no unhandled rejection logged', async () => {
    const status = await cluster.status();
    for (const p of status.processes) {
      assert.equal(p.health, 'healthy', p.id);
      assert.equal(p.pid, pidsBefore.get(p.id), `${p.id} was not restarted`);
    }
    const survivor = await callGateway(cluster.gatewayUrl, 'links', 'resolve', { code: 'survivor' }, { method: 'GET' });
    assert.equal(survivor.status, 200, survivor.error);
    for (const file of await readdir(join(dir, 'logs'))) {
      const text = await readFile(join(dir, 'logs', file), 'utf8');
      assert.doesNotMatch(text, /unhandled rejection|uncaught exception/, file);
    }
  });
});
