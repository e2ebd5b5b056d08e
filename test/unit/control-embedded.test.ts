/**
 * The embedded coordinator as a real process: durability across kill -9, lease grace after a
 * crash, watches resuming, hostile input; and Membership on top of it.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { ShoalError } from '../../src/core/errors.ts';
import type { Logger } from '../../src/core/index.ts';
import { Membership } from '../../src/control/index.ts';
import { createEmbeddedCoordinator, startCoordinatorServer } from '../../src/control/embedded/index.ts';
import type { Coordinator, CoordinatorState, MemberRecord, WatchEvent } from '../../src/control/index.ts';
import type { CoordinatorServer } from '../../src/control/embedded/index.ts';
import { SIGNATURE_HEADER, TIME_HEADER, signRequest } from '../../src/control/embedded/auth.ts';
import { eventually } from '../support/eventually.ts';

const SECRET = 'unit-secret';
const childScript = new URL('../support/coordinator-child.ts', import.meta.url).pathname;

/** A logger that keeps only the messages, for waiting on something a component reports. */
function messageLogger(messages: string[]): Logger {
  const keep = (_obj: object, msg?: string): void => {
    messages.push(msg ?? '');
  };
  const logger: Logger = { debug: keep, info: keep, warn: keep, error: keep, child: () => logger };
  return logger;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

interface Child {
  process: ChildProcess;
  url: string;
  port: number;
}

function startChild(dataDir: string, port: number): Promise<Child> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [childScript, dataDir, String(port), SECRET], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.once('exit', (code) => reject(new Error(`coordinator child exited with ${code}: ${stderr}`)));
    createInterface({ input: child.stdout }).once('line', (line) => {
      const { url, port: bound } = JSON.parse(line) as { url: string; port: number };
      resolve({ process: child, url, port: bound });
    });
  });
}

function killChild(child: Child, signal: NodeJS.Signals): Promise<void> {
  if (child.process.exitCode !== null || child.process.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.process.once('exit', () => resolve());
    child.process.kill(signal);
  });
}

interface RawAnswer {
  status: number;
  body: { error?: { code: string; message: string } } & Record<string, unknown>;
}

/** A hand-made request, so tests can send what the client never would. */
function raw(url: string, method: string, path: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, url), { method, headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function signed(method: string, path: string, body: string, secret = SECRET, time = Date.now()): Record<string, string> {
  return { [TIME_HEADER]: String(time), [SIGNATURE_HEADER]: signRequest(secret, method, path, String(time), body) };
}

describe('embedded coordinator in a child process', () => {
  let dataDir: string;
  let child: Child;
  let client: Coordinator;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'shoal-coordinator-child-'));
    child = await startChild(dataDir, 0);
    client = createEmbeddedCoordinator({ url: child.url, secret: SECRET, requestTimeoutMs: 2000 });
  });
  after(async () => {
    await client.close();
    await killChild(child, 'SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps keys, versions, revision and live leases across kill -9, and watches resume', async () => {
    const states: CoordinatorState[] = [];
    client.onStateChange((state) => states.push(state));
    await client.put('d/a', { n: 1 });
    const a = await client.put('d/a', { n: 2 });
    const b = await client.put('d/b', 'bee');
    const lease = await client.grantLease(1500);
    const leased = await client.put('d/leased', 'alive', { lease: lease.id });
    const before = await client.list('d/');

    const events: WatchEvent[] = [];
    const watch = client.watch('d/', (event) => events.push(event), { afterRevision: b.modRevision });
    try {
      await eventually(() => events.length === 1, { message: 'watch saw the leased put' });

      await killChild(child, 'SIGKILL');
      await assert.rejects(client.get('d/a'), (err) => err instanceof ShoalError && err.code === 'UNAVAILABLE');
      assert.equal(client.state(), 'disconnected');
      // Down longer than the lease ttl: only the restart grace can save the lease.
      await sleep(2000);
      child = await startChild(dataDir, child.port);
      const renewed = await client.keepAlive(lease.id);
      assert.equal(renewed.fencingToken, lease.fencingToken);
      await eventually(() => client.state() === 'connected', { message: 'client connected again' });

      const now = await client.list('d/');
      assert.deepEqual(now, before, 'keys, versions and revision survive');
      assert.deepEqual(await client.get('d/a'), a);
      assert.deepEqual(await client.get('d/leased'), leased);
      assert.ok((await client.grantLease(1000)).fencingToken > lease.fencingToken);

      const c = await client.put('d/c', 'after restart');
      assert.equal(c.modRevision, before.revision + 1);
      await eventually(() => events.length === 2, { message: 'watch resumed after restart' });
      assert.deepEqual(
        events.map((e) => e.revision),
        [leased.modRevision, c.modRevision],
      );
      assert.deepEqual(states.slice(-2), ['disconnected', 'connected']);
      await client.revokeLease(lease.id);
    } finally {
      watch.close();
    }
  });

  it('rejects malformed JSON, wrong types, oversized bodies and bad signatures without harm', async () => {
    const stored = await client.put('h/kept', { safe: true });
    const put = '/v1/kv/put';

    const malformed = '{"key": "h/kept", "value": ';
    const r1 = await raw(child.url, 'POST', put, malformed, signed('POST', put, malformed));
    assert.equal(r1.status, 400);
    assert.equal(r1.body.error?.code, 'BAD_REQUEST');
    assert.match(r1.body.error?.message ?? '', /JSON/);

    const wrongTypes = JSON.stringify({ key: 5, value: 'x', expectVersion: 'one' });
    const r2 = await raw(child.url, 'POST', put, wrongTypes, signed('POST', put, wrongTypes));
    assert.equal(r2.status, 400);
    assert.match(r2.body.error?.message ?? '', /key/);
    assert.match(r2.body.error?.message ?? '', /expectVersion/);

    const missingValue = JSON.stringify({ key: 'h/kept' });
    const r3 = await raw(child.url, 'POST', put, missingValue, signed('POST', put, missingValue));
    assert.equal(r3.status, 400);

    const huge = JSON.stringify({ key: 'h/kept', value: 'x'.repeat(1024 * 1024 + 10) });
    const r4 = await raw(child.url, 'POST', put, huge, signed('POST', put, huge));
    assert.equal(r4.status, 413);
    assert.equal(r4.body.error?.code, 'PAYLOAD_TOO_LARGE');

    const good = JSON.stringify({ key: 'h/kept', value: 'overwritten' });
    const r5 = await raw(child.url, 'POST', put, good, signed('POST', put, good, 'wrong-secret'));
    assert.equal(r5.status, 401);
    const r6 = await raw(child.url, 'POST', put, good);
    assert.equal(r6.status, 401);
    const r7 = await raw(child.url, 'POST', put, good, signed('POST', put, good, SECRET, Date.now() - 60_000));
    assert.equal(r7.status, 401);
    // A signature is bound to its body: replaying it with another body fails.
    const r8 = await raw(child.url, 'POST', put, good.replace('overwritten', 'tampered'), signed('POST', put, good));
    assert.equal(r8.status, 401);

    const wrongSecretClient = createEmbeddedCoordinator({ url: child.url, secret: 'wrong-secret' });
    try {
      await assert.rejects(wrongSecretClient.get('h/kept'), (err) => err instanceof ShoalError && err.code === 'UNAUTHORIZED');
    } finally {
      await wrongSecretClient.close();
    }

    assert.deepEqual(await client.get('h/kept'), stored, 'stored data intact');
    const status = await raw(child.url, 'GET', '/v1/status', '', signed('GET', '/v1/status', ''));
    assert.equal(status.status, 200);
    assert.equal(status.body.revision, stored.modRevision);
  });
});

describe('Membership over the embedded coordinator', () => {
  let dataDir: string;
  let server: CoordinatorServer;
  let port: number;
  const opened: Coordinator[] = [];
  const memberships: Membership[] = [];

  const connect = (logger?: Logger) => {
    const c = createEmbeddedCoordinator({ url: `http://127.0.0.1:${port}`, secret: SECRET, requestTimeoutMs: 1000, logger });
    opened.push(c);
    return c;
  };
  const membership = (c: Coordinator) => {
    const m = new Membership(c);
    memberships.push(m);
    return m;
  };
  const record = (id: string, role: MemberRecord['role'] = 'node'): MemberRecord => ({
    id,
    role,
    address: { host: '127.0.0.1', port: 7000 },
    pid: process.pid,
    startedAt: Date.now(),
    services: [{ name: 'links', version: 2, actions: [{ name: 'create', idempotent: false, rest: { method: 'POST', path: '/links' } }], events: ['link.created'] }],
  });

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'shoal-membership-'));
    server = await startCoordinatorServer({ dataDir, port: 0, secret: SECRET });
    port = server.address.port;
  });
  after(async () => {
    for (const m of memberships) m.close();
    await Promise.all(opened.map((c) => c.close()));
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('watchers see joins, updates, crashed members vanish, and lists survive a coordinator outage', async () => {
    const a = membership(connect());
    const b = membership(connect());
    await a.join(record('node-a'), { ttlMs: 600 });
    await b.join(record('node-b'), { ttlMs: 600 });

    const lists: MemberRecord[][] = [];
    const watcherLog: string[] = [];
    const watcher = membership(connect(messageLogger(watcherLog)));
    const watch = watcher.watchMembers((members) => lists.push(members));
    const latest = () => lists.at(-1)?.map((m) => m.id) ?? [];
    try {
      await eventually(() => latest().join() === 'node-a,node-b', { message: 'both members listed' });
      assert.deepEqual(lists.at(-1)?.[0].services[0].actions[0].rest, { method: 'POST', path: '/links' });

      await a.update({ health: 'degraded' });
      await eventually(() => lists.at(-1)?.find((m) => m.id === 'node-a')?.health === 'degraded', { message: 'update seen' });

      // b stops renewing as if its process died: it is gone once its lease expires.
      b.close();
      await eventually(() => latest().join() === 'node-a', { message: 'node-b expired' });

      // The coordinator goes down: the watcher keeps what it knew.
      const seen = lists.length;
      const failedPolls = () => watcherLog.filter((msg) => /watch poll failed/.test(msg)).length;
      const failedBefore = failedPolls();
      await server.close();
      // Each failed poll is where a wrong list would have been delivered.
      await eventually(() => failedPolls() >= failedBefore + 2, { message: 'two failed watch polls while the coordinator is down' });
      assert.equal(lists.length, seen, 'no list delivered while the coordinator is down');
      assert.deepEqual(latest(), ['node-a']);

      // It comes back; a kept renewing and is still there (restart grace), and new joins show up.
      server = await startCoordinatorServer({ dataDir, port, secret: SECRET });
      const c = membership(connect());
      await c.join(record('gw-1', 'gateway'), { ttlMs: 600 });
      await eventually(() => latest().join() === 'gw-1,node-a', { message: 'new member after outage' });
      // The restart gave every lease one ttl from then: a probe lease of the same ttl granted
      // now expires no earlier than node-a's would have without renewals.
      const admin = connect();
      const probe = await admin.grantLease(600);
      await admin.put('probe/outage', 1, { lease: probe.id });
      await eventually(async () => (await admin.get('probe/outage')) === undefined, { message: 'the probe lease to expire' });
      // Once the watcher shows a later change, it has shown any removal of node-a before it.
      await c.update({ health: 'degraded' });
      await eventually(() => lists.at(-1)?.find((m) => m.id === 'gw-1')?.health === 'degraded', { message: 'gw-1 update seen' });
      assert.deepEqual(latest(), ['gw-1', 'node-a'], 'node-a kept alive across the outage');

      await c.leave();
      await eventually(() => latest().join() === 'node-a', { message: 'left member removed at once' });
    } finally {
      watch.close();
    }
  });

  it('a member whose lease was lost registers again', async () => {
    const admin = connect();
    const m = membership(connect());
    await m.join(record('node-lost'), { ttlMs: 600 });
    const first = m.currentLease();
    assert.ok(first);
    const lists: MemberRecord[][] = [];
    const watch = membership(connect()).watchMembers((members) => lists.push(members));
    try {
      await eventually(() => lists.at(-1)?.some((x) => x.id === 'node-lost') === true, { message: 'member listed' });
      // As if the lease had expired while the member could not reach the coordinator.
      await admin.revokeLease(first.id);
      await eventually(() => lists.some((l) => !l.some((x) => x.id === 'node-lost')), { message: 'member removed' });
      await eventually(() => lists.at(-1)?.some((x) => x.id === 'node-lost') === true, { message: 'member back' });
      const second = m.currentLease();
      assert.ok(second && second.fencingToken > first.fencingToken);
      await m.leave();
      assert.equal(await admin.get('members/node-lost'), undefined);
    } finally {
      watch.close();
    }
  });
});

describe('embedded coordinator watch history', () => {
  it('delivers reset when the asked-for history has been evicted, then continues', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'shoal-coordinator-ring-'));
    const server = await startCoordinatorServer({ dataDir, port: 0, secret: SECRET, watchHistory: 10 });
    const client = createEmbeddedCoordinator({ url: server.url, secret: SECRET });
    const events: WatchEvent[] = [];
    let watch: { close(): void } | undefined;
    try {
      for (let i = 0; i < 30; i++) await client.put(`r/${i}`, i);
      watch = client.watch('r/', (event) => events.push(event), { afterRevision: 0 });
      await eventually(() => events.length >= 1, { message: 'first event' });
      assert.deepEqual(events[0], { type: 'reset', revision: 30 });
      await client.put('r/next', 'x');
      await eventually(() => events.length >= 2, { message: 'event after reset' });
      assert.equal(events[1].type === 'put' && events[1].entry.key, 'r/next');
      assert.equal(events.length, 2);
    } finally {
      watch?.close();
      await client.close();
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
