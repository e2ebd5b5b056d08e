/**
 * End-to-end fuzz of a live cluster and a `shoal lb` in front of its gateway: generated and
 * mutated requests at every listener (gateway, lb, control, supervisor admin, node HTTP), and
 * generated JSON params at the service and admin call paths. Whatever arrives, nothing answers
 * 500, every connection is answered or closed, every process keeps its pid and a bounded
 * memory, and the documents written before are all still there.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { startCluster, type ClusterHandle } from '../../src/cluster/index.ts';
import { callGateway, freePortBase, removeDir, tempClusterDir } from '../support/cluster-harness.ts';
import { checkAsyncProperty } from '../support/fuzz-budget.ts';
import { startLb, type LbProcess } from '../support/lb-harness.ts';

const PRESEEDED = 40;
/** Growth of a process's resident memory over the run that counts as unbounded. */
const RSS_GROWTH_LIMIT_MB = 200;

function rssMbOf(pid: number): Promise<number> {
  return readFile(`/proc/${pid}/status`, 'utf8').then((text) => Number(/VmRSS:\s+(\d+)/.exec(text)?.[1] ?? 0) / 1024);
}

/** Sends bytes; resolves with the first status line's code (0 if none) once answered or closed. */
function exchange(port: number, bytes: Buffer): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(bytes));
    let text = '';
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0), text: text.slice(0, 400) });
    };
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1');
      // One answer is enough; a keep-alive server would otherwise hold the socket open.
      if (text.includes('\r\n\r\n')) setTimeout(finish, 50).unref();
    });
    socket.on('error', finish);
    socket.on('close', finish);
    const timer = setTimeout(() => (done ? undefined : reject(new Error(`port ${port} neither answered nor closed: ${JSON.stringify(bytes.toString('latin1').slice(0, 120))}`))), 20_000);
  });
}

const paths = [
  '/api/v1/links/create', '/api/v2/links/create', '/api/v2/links/resolve?code=fz-1', '/v1/links/fz-2', '/v2/links',
  '/api/v1/$data/query', '/api/v1/$node/info', '/api/v0/x/y', '/api/v99999999999999999999/a/b', '/openapi.json', '/healthz',
  '/metrics', '/v1/kv/put', '/v1/watch?prefix=a&after=x', '/status', '/scale', '/stop', '/dashboard/cluster.json', '/?token=x', '/%', '/%zz/%E0%A4%A',
];

const hostileRequestArb = fc.record({
  method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'G3T', 'CONNECT'),
  path: fc.oneof(
    { arbitrary: fc.constantFrom(...paths), weight: 1 },
    // A known path with a stray escape or byte spliced in: where decoding and routing meet.
    {
      arbitrary: fc
        .tuple(fc.constantFrom(...paths), fc.nat(), fc.constantFrom('%', '%z', '%E0%A4%A', '%00', '%2F', '..', '//', '\u00e9', ' '))
        .map(([path, at, bit]) => path.slice(0, at % (path.length + 1)) + bit + path.slice(at % (path.length + 1))),
      weight: 4,
    },
    { arbitrary: fc.string({ maxLength: 40 }).map((s) => `/${s}`), weight: 1 },
    { arbitrary: fc.constantFrom('*', 'http://[::1/x', ''), weight: 1 },
  ),
  version: fc.constantFrom('HTTP/1.1', 'HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', ''),
  headers: fc.array(
    fc.oneof(
      fc.constantFrom('content-type: application/json', 'transfer-encoding: chunked', 'transfer-encoding: gzip, chunked', 'host: other', 'connection: content-length', 'content-length: 5', 'content-length: 5', 'authorization: Bearer nope', 'expect: 100-continue'),
      fc.tuple(fc.stringMatching(/^[a-z-]{1,12}$/), fc.string({ maxLength: 30 })).map(([k, v]) => `${k}: ${v.replace(/[\r\n]/g, '')}`),
    ),
    { maxLength: 5 },
  ),
  body: fc.oneof(fc.json({ maxDepth: 4 }), fc.string({ maxLength: 200 }), fc.integer({ min: 60, max: 5000 }).map((n) => `{"url":${'['.repeat(n)}${']'.repeat(n)}}`)),
  frame: fc.constantFrom('content-length', 'chunked', 'none'),
  flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }),
});

/** Well-formed requests with generated bodies, so a run reaches past the refusals into the handlers. */
const plainRequestArb = fc.record({
  method: fc.constantFrom('GET', 'POST'),
  path: fc.constantFrom(...paths),
  version: fc.constant('HTTP/1.1'),
  headers: fc.constantFrom([], ['content-type: application/json']),
  body: fc.oneof(fc.json({ maxDepth: 3 }), fc.webUrl().map((url) => JSON.stringify({ url }))),
  frame: fc.constantFrom('content-length', 'chunked'),
  flips: fc.constant([] as Array<[number, number]>),
});

const aspects = ['method', 'version', 'headers', 'body', 'frame', 'flips'] as const;

/**
 * A well-formed request with some of its aspects made hostile (the path half the time, since
 * decoding and routing are where most handler code starts), so each mutation meets the code
 * past the others instead of being refused for another one first.
 */
const requestArb: fc.Arbitrary<FuzzRequest> = fc
  .tuple(plainRequestArb, hostileRequestArb, fc.subarray([...aspects], { maxLength: 2 }), fc.boolean())
  .map(([plain, hostile, mutated, hostilePath]) => {
    const request: FuzzRequest = { ...plain, ...(hostilePath ? { path: hostile.path } : {}) };
    for (const aspect of mutated) Object.assign(request, { [aspect]: hostile[aspect] });
    return request;
  });

interface FuzzRequest {
  method: string;
  path: string;
  version: string;
  headers: readonly string[];
  body: string;
  frame: 'content-length' | 'chunked' | 'none';
  flips: ReadonlyArray<readonly [number, number]>;
}

function bytesOf(request: FuzzRequest): Buffer {
  const body = Buffer.from(request.body, 'utf8');
  const framing =
    request.frame === 'content-length' ? [`content-length: ${body.length}`] : request.frame === 'chunked' ? ['transfer-encoding: chunked'] : [];
  const bodyBytes = request.frame === 'chunked' ? Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]) : request.frame === 'none' ? Buffer.alloc(0) : body;
  const head = [`${request.method} ${request.path} ${request.version}`.trimEnd(), 'host: fuzz', ...request.headers, ...framing].join('\r\n') + '\r\n\r\n';
  const bytes = Buffer.concat([Buffer.from(head, 'utf8'), bodyBytes]);
  for (const [at, value] of request.flips) bytes[at % bytes.length] = value;
  return bytes;
}

describe('fuzz: a live cluster and shoal lb', () => {
  let cluster: ClusterHandle;
  let lb: LbProcess;
  let dir: string;
  let targets: Record<string, number>;
  const rssBefore = new Map<number, number>();
  let pidsBefore: Map<string, number | null>;

  before(async () => {
    dir = await tempClusterDir();
    const base = await freePortBase(2);
    cluster = await startCluster({ nodes: 2, dir, port: base });
    lb = await startLb(['--listen', '127.0.0.1:0', '--upstream', cluster.gatewayUrl]);
    targets = { gateway: base, control: base + 50, admin: base + 51, 'node http': base + 201, lb: Number(new URL(lb.urls[0]).port) };
    for (let i = 0; i < PRESEEDED; i++) {
      const created = await callGateway(cluster.gatewayUrl, 'links', 'create', { url: `https://example.com/kept/${i}`, alias: `kept-${i}` }, { version: 2 });
      assert.equal(created.status, 200, created.error);
    }
    pidsBefore = new Map((await cluster.status()).processes.map((p) => [p.id, p.pid]));
    for (const pid of [...pidsBefore.values(), lb.child.pid]) if (pid) rssBefore.set(pid, await rssMbOf(pid));
  });
  after(async () => {
    lb?.child.kill('SIGKILL');
    await cluster?.stop();
    await removeDir(dir);
  });

  it('answers generated and mutated requests at every listener without a 500, and closes what it refuses', async () => {
    const names = Object.keys(targets);
    const statuses = new Map<string, number>();
    await checkAsyncProperty(
      'cluster listeners',
      1500,
      fc.asyncProperty(fc.constantFrom(...names), requestArb, async (target, request) => {
        const answer = await exchange(targets[target], bytesOf(request));
        if (answer.status === 500) throw new Error(`${target} answered 500: ${answer.text}`);
        const kind = answer.status === 0 ? 'closed' : `${Math.floor(answer.status / 100)}xx`;
        statuses.set(kind, (statuses.get(kind) ?? 0) + 1);
      }),
    );
    console.log(`answers: ${[...statuses].map(([kind, n]) => `${kind} ${n}`).join(', ')}`);
    // The generator must reach past the refusals too, or the run says little.
    assert.ok((statuses.get('2xx') ?? 0) > 0 && (statuses.get('4xx') ?? 0) > 0, JSON.stringify([...statuses]));
  });

  it('answers generated params at the service and admin call paths with a JSON answer, never 500', async () => {
    const call = async (path: string, params: unknown, token?: string) => {
      const response = await fetch(`${cluster.gatewayUrl}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify(params),
      });
      const text = await response.text();
      JSON.parse(text);
      return { status: response.status, text };
    };
    await checkAsyncProperty(
      'JSON params',
      300,
      fc.asyncProperty(
        fc.constantFrom('/api/v2/links/create', '/api/v1/links/resolve', '/api/v1/analytics/top', '/api/v1/$data/query', '/api/v1/$data/get', '/api/v1/$data/hotSlots'),
        fc.oneof(fc.jsonValue({ maxDepth: 5 }), fc.record({ url: fc.oneof(fc.webUrl(), fc.string()), alias: fc.string({ maxLength: 20 }) }), fc.record({ collection: fc.constantFrom('links', 'clicks', 'nope'), query: fc.jsonValue({ maxDepth: 3 }) })),
        async (path, params) => {
          const answer = await call(path, params, cluster.adminToken);
          if (answer.status === 500) throw new Error(`${path} answered 500 to ${JSON.stringify(params).slice(0, 200)}: ${answer.text}`);
        },
      ),
    );
  });

  it('keeps every process up with the same pid and bounded memory, and every document written before', async () => {
    const status = await cluster.status();
    for (const p of status.processes) {
      assert.equal(p.health, 'healthy', p.id);
      assert.equal(p.pid, pidsBefore.get(p.id), `${p.id} was restarted`);
    }
    assert.equal(lb.child.exitCode, null, 'shoal lb is still running');
    for (const [pid, before] of rssBefore) {
      const now = await rssMbOf(pid);
      assert.ok(now - before < RSS_GROWTH_LIMIT_MB, `pid ${pid} grew from ${before.toFixed(0)} to ${now.toFixed(0)} MB`);
    }
    for (let i = 0; i < PRESEEDED; i++) {
      const link = await callGateway(cluster.gatewayUrl, 'links', 'resolve', { code: `kept-${i}` }, { method: 'GET' });
      assert.equal(link.status, 200, link.error);
      assert.equal((link.body as { url: string }).url, `https://example.com/kept/${i}`);
    }
    for (const file of await readdir(join(dir, 'logs'))) {
      assert.doesNotMatch(await readFile(join(dir, 'logs', file), 'utf8'), /unhandled rejection|uncaught exception/, file);
    }
  });
});
