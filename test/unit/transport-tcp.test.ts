import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import { ShoalError } from '../../src/core/errors.ts';
import { silentLogger, type Logger } from '../../src/core/logger.ts';
import type { PeerAddress, PeerInfo, Transport } from '../../src/transport/index.ts';
import { createTcpTransport, type TcpTransportOptions } from '../../src/transport/tcp/index.ts';
import { FrameDecoder, decodeFrame, encodeFrame, type Frame } from '../../src/transport/tcp/frame.ts';
import { computeProof, createNonce } from '../../src/transport/tcp/handshake.ts';

const HOST = '127.0.0.1';
const SECRET = 'cluster-secret';

interface LogRecord {
  level: string;
  obj: object;
  msg?: string;
}

function captureLogger(records: LogRecord[]): Logger {
  const logger: Logger = {
    debug: (obj, msg) => records.push({ level: 'debug', obj, msg }),
    info: (obj, msg) => records.push({ level: 'info', obj, msg }),
    warn: (obj, msg) => records.push({ level: 'warn', obj, msg }),
    error: (obj, msg) => records.push({ level: 'error', obj, msg }),
    child: () => logger,
  };
  return logger;
}

const opened: Transport[] = [];
const sockets: Socket[] = [];
const children: ChildProcess[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await Promise.all(opened.splice(0).map((t) => t.close()));
});

function transport(nodeId: string, options: Partial<TcpTransportOptions> = {}): Transport {
  const t = createTcpTransport({ nodeId, secret: SECRET, logger: silentLogger, ...options });
  opened.push(t);
  return t;
}

async function server(
  nodeId = 'server',
  options: Partial<TcpTransportOptions> = {},
): Promise<{ transport: Transport; address: PeerAddress }> {
  const t = transport(nodeId, options);
  t.onRequest(async (payload) => ({ echo: payload }));
  const address = await t.listen({ host: HOST, port: 0 });
  return { transport: t, address };
}

async function expectShoalError(promise: Promise<unknown>, code: string): Promise<ShoalError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof ShoalError, `expected a ShoalError, got ${String(err)}`);
    assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`);
    return err;
  }
  assert.fail(`expected a ${code} error, but the promise resolved`);
}

async function freePort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, HOST);
  await once(probe, 'listening');
  const address = probe.address();
  assert.ok(address !== null && typeof address === 'object');
  probe.close();
  await once(probe, 'close');
  return address.port;
}

function rawSocket(address: PeerAddress): Socket {
  const socket = connect({ host: address.host, port: address.port });
  socket.on('error', () => {});
  // Flowing, so the server's hello is consumed and its close is seen as 'end' then 'close'.
  socket.resume();
  sockets.push(socket);
  return socket;
}

/** Waits until a condition over the transport holds, polling on the event loop (no timing assumed). */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
}

describe('tcp transport', () => {
  it('answers a request, telling the handler the authenticated node id', async () => {
    const { transport: s, address } = await server();
    let from: PeerInfo | undefined;
    s.onRequest(async (payload, peer) => {
      from = peer;
      return { echo: payload };
    });
    const client = transport('client-a');
    const answer = await client.request(address, { n: 1, list: ['x'], flag: true }, { timeoutMs: 5000 });
    assert.deepEqual(answer, { echo: { n: 1, list: ['x'], flag: true } });
    assert.equal(from?.nodeId, 'client-a');
    assert.match(from?.remoteAddress ?? '', /^127\.0\.0\.1:\d+$/);
    assert.equal(client.stats().connections, 1);
    assert.equal(client.stats().inflight, 0);
  });

  it('answers 1000 concurrent requests on one connection, each with its own answer', async () => {
    const { transport: s, address } = await server();
    s.onRequest(async (payload) => {
      const n = payload as number;
      // Answer out of order so matching by id is what makes the results right.
      if (n % 3 === 0) await new Promise((resolve) => setImmediate(resolve));
      return n * 2;
    });
    const client = transport('client');
    const inputs = Array.from({ length: 1000 }, (_, i) => i);
    const answers = await Promise.all(inputs.map((n) => client.request(address, n, { timeoutMs: 10_000 })));
    assert.deepEqual(answers, inputs.map((n) => n * 2));
    assert.equal(client.stats().connections, 1);
    assert.equal(s.stats().connections, 1);
  });

  it('rebuilds a remote error with its code and details', async () => {
    const { transport: s, address } = await server();
    s.onRequest(async () => {
      throw new ShoalError('NOT_FOUND', 'no such link', { id: 'abc' });
    });
    const client = transport('client');
    const err = await expectShoalError(client.request(address, null, { timeoutMs: 5000 }), 'NOT_FOUND');
    assert.equal(err.message, 'no such link');
    assert.deepEqual(err.details, { id: 'abc' });

    s.onRequest(() => {
      throw new Error('plain failure');
    });
    const internal = await expectShoalError(client.request(address, null, { timeoutMs: 5000 }), 'INTERNAL');
    assert.equal(internal.message, 'plain failure');
  });

  it('answers UNAVAILABLE when the node has no request handler', async () => {
    const s = transport('server');
    const address = await s.listen({ host: HOST, port: 0 });
    const client = transport('client');
    const err = await expectShoalError(client.request(address, 1, { timeoutMs: 5000 }), 'UNAVAILABLE');
    assert.deepEqual((err.details as { sent: boolean }).sent, false);
  });

  it('fails with TIMEOUT when no answer comes in time, and drops the late answer', async () => {
    const { transport: s, address } = await server();
    const held: Array<(value: unknown) => void> = [];
    s.onRequest((payload) => {
      if (payload === 'slow') return new Promise((resolve) => held.push(resolve));
      return Promise.resolve(payload);
    });
    const client = transport('client');
    await expectShoalError(client.request(address, 'slow', { timeoutMs: 50 }), 'TIMEOUT');
    assert.equal(client.stats().inflight, 0);
    await until(() => held.length === 1);
    held[0]('too late');
    // The connection survives the late answer and still matches answers to requests.
    assert.equal(await client.request(address, 'fast', { timeoutMs: 5000 }), 'fast');
    assert.equal(client.stats().connections, 1);
  });

  it('fails in-flight requests with UNAVAILABLE (sent) and fires onPeerDown when the peer is killed', async () => {
    const entry = new URL('../../src/transport/tcp/index.ts', import.meta.url).href;
    const script = `
      import { createTcpTransport } from ${JSON.stringify(entry)};
      const t = createTcpTransport({ nodeId: 'doomed', secret: ${JSON.stringify(SECRET)} });
      t.onRequest(() => { process.stdout.write('received\\n'); return new Promise(() => {}); });
      const address = await t.listen({ host: '127.0.0.1', port: 0 });
      process.stdout.write('port ' + address.port + '\\n');
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    let output = '';
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (text: string) => {
      output += text;
    });
    await until(() => /port \d+\n/.test(output) || child.exitCode !== null);
    const port = Number(/port (\d+)/.exec(output)?.[1]);
    assert.ok(port > 0, `child did not start: ${output}`);

    const client = transport('client');
    const down: PeerAddress[] = [];
    client.onPeerDown((peer) => down.push(peer));
    const inflight = client.request({ host: HOST, port }, 'hang', { timeoutMs: 30_000 });
    await until(() => output.includes('received'));
    child.kill('SIGKILL');

    const err = await expectShoalError(inflight, 'UNAVAILABLE');
    assert.equal((err.details as { sent: boolean }).sent, true);
    await until(() => down.length === 1);
    assert.deepEqual(down[0], { host: HOST, port });
    assert.equal(client.stats().connections, 0);
  });

  it('reconnects when the server comes back on the same port', async () => {
    const first = await server('server-1');
    const port = first.address.port;
    const client = transport('client');
    const down: PeerAddress[] = [];
    client.onPeerDown((peer) => down.push(peer));
    assert.deepEqual(await client.request(first.address, 1, { timeoutMs: 5000 }), { echo: 1 });

    await first.transport.close();
    await until(() => down.length === 1);

    // Sent while nothing listens: the client keeps retrying until the new server accepts.
    const pending = client.request({ host: HOST, port }, 2, { timeoutMs: 20_000 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const second = transport('server-2');
    second.onRequest(async (payload) => ({ again: payload }));
    await second.listen({ host: HOST, port });
    assert.deepEqual(await pending, { again: 2 });
    assert.deepEqual(await client.request({ host: HOST, port }, 3, { timeoutMs: 5000 }), { again: 3 });
  });

  it('fails with UNAVAILABLE (not sent) when no connection can be made before the timeout', async () => {
    const port = await freePort();
    const client = transport('client', { reconnect: { initialMs: 5, maxMs: 20 } });
    const down: PeerAddress[] = [];
    client.onPeerDown((peer) => down.push(peer));
    const err = await expectShoalError(client.request({ host: HOST, port }, 1, { timeoutMs: 100 }), 'UNAVAILABLE');
    assert.equal((err.details as { sent: boolean }).sent, false);
    assert.equal(client.stats().inflight, 0);
    assert.deepEqual(down, [], 'a refused connect is not a lost peer');
  });

  it('rejects a wrong secret with UNAUTHORIZED while a correct client keeps working', async () => {
    const records: LogRecord[] = [];
    const { transport: s, address } = await server('server', { logger: captureLogger(records) });
    const good = transport('good');
    assert.deepEqual(await good.request(address, 'before', { timeoutMs: 5000 }), { echo: 'before' });

    const intruder = createTcpTransport({ nodeId: 'intruder', secret: 'wrong', logger: silentLogger });
    opened.push(intruder);
    await expectShoalError(intruder.request(address, 'let me in', { timeoutMs: 10_000 }), 'UNAUTHORIZED');
    // Not retried within the request; the next request tries (and fails) again.
    await expectShoalError(intruder.request(address, 'again', { timeoutMs: 10_000 }), 'UNAUTHORIZED');
    assert.equal(intruder.stats().connections, 0);

    await until(() => s.stats().rejected >= 2);
    const warning = records.find((r) => r.level === 'warn' && 'remoteAddress' in r.obj);
    assert.ok(warning, 'a warning names the remote address');
    assert.match(String((warning.obj as { remoteAddress: unknown }).remoteAddress), /^127\.0\.0\.1:\d+$/);
    assert.deepEqual(await good.request(address, 'after', { timeoutMs: 5000 }), { echo: 'after' });
    assert.equal(s.stats().connections, 1);
  });

  it('closes a socket that sends garbage or an oversized header, and keeps serving others', async () => {
    const { transport: s, address } = await server('server', { maxFrameBytes: 1024 });
    const good = transport('good');
    assert.deepEqual(await good.request(address, 1, { timeoutMs: 5000 }), { echo: 1 });

    const garbage = rawSocket(address);
    garbage.write(Buffer.from([0, 0, 0, 3, 0xc1, 0xc1, 0xc1]));
    await once(garbage, 'close');
    assert.equal(s.stats().rejected, 1);

    const unknownKind = rawSocket(address);
    unknownKind.write(encodeFrame({ t: 'bogus' } as unknown as Frame));
    await once(unknownKind, 'close');
    assert.equal(s.stats().rejected, 2);

    const oversized = rawSocket(address);
    oversized.write(Buffer.from([0xff, 0xff, 0xff, 0xff]));
    await once(oversized, 'close');
    assert.equal(s.stats().rejected, 3);

    const early = rawSocket(address);
    early.write(encodeFrame({ t: 'req', id: 1, body: 'sneaky' }));
    await once(early, 'close');
    assert.equal(s.stats().rejected, 4);

    assert.deepEqual(await good.request(address, 2, { timeoutMs: 5000 }), { echo: 2 });
    assert.equal(s.stats().connections, 1);
  });

  it('enforces maxFrameBytes after authentication too', async () => {
    const { transport: s, address } = await server('server', { maxFrameBytes: 1024 });
    const socket = rawSocket(address);
    const decoder = new FrameDecoder(1 << 16);
    const frames: Frame[] = [];
    socket.on('data', (chunk: Buffer) =>
      decoder.push(chunk, (body) => {
        frames.push(decodeFrame(body));
        return true;
      }),
    );
    await until(() => frames.length === 1);
    const hello = frames[0];
    assert.equal(hello.t, 'hello');
    const nonce = createNonce();
    socket.write(encodeFrame({ t: 'auth', nodeId: 'raw', proof: computeProof(SECRET, hello.nonce, 'raw'), nonce }));
    await until(() => frames.length === 2);
    assert.equal(frames[1].t, 'welcome');
    await until(() => s.stats().connections === 1);

    const header = Buffer.alloc(4);
    header.writeUInt32BE(1025, 0);
    socket.write(header);
    await once(socket, 'close');
    assert.equal(s.stats().rejected, 1);
    assert.equal(s.stats().connections, 0);

    const client = transport('client', { maxFrameBytes: 1024 });
    await expectShoalError(client.request(address, 'z'.repeat(2000), { timeoutMs: 5000 }), 'PAYLOAD_TOO_LARGE');
    assert.deepEqual(await client.request(address, 'small', { timeoutMs: 5000 }), { echo: 'small' });
  });

  it('delivers one-way messages in order, ahead of a later request, waiting out congestion', async () => {
    const { transport: s, address } = await server();
    const received: Array<{ seq: number; from: string }> = [];
    s.onNotify((payload, from) => received.push({ seq: (payload as { seq: number }).seq, from: from.nodeId }));
    const client = transport('sender');
    const padding = 'p'.repeat(64 * 1024);
    const sends: Promise<void>[] = [];
    for (let seq = 0; seq < 300; seq++) sends.push(client.notify(address, { seq, padding }));
    const answer = client.request(address, 'after', { timeoutMs: 20_000 });
    await Promise.all(sends);
    assert.deepEqual(await answer, { echo: 'after' });
    assert.equal(received.length, 300);
    assert.deepEqual(received.map((r) => r.seq), Array.from({ length: 300 }, (_, i) => i));
    assert.ok(received.every((r) => r.from === 'sender'));
  });

  it('closes a connection that does not finish the handshake in time', async () => {
    const { transport: s, address } = await server('server', { handshakeTimeoutMs: 50 });
    const silent = rawSocket(address);
    await once(silent, 'close');
    assert.equal(s.stats().rejected, 1);
    assert.equal(s.stats().connections, 0);
  });

  it('keeps answering after more than 10 000 unanswered requests paused reading', { timeout: 60_000 }, async () => {
    const { transport: s, address } = await server();
    const held: Array<() => void> = [];
    let holding = true;
    s.onRequest((payload) => {
      if (!holding) return Promise.resolve(payload);
      return new Promise((resolve) => held.push(() => resolve(payload)));
    });
    const client = transport('client');
    const total = 12_000;
    const answers = Promise.all(
      Array.from({ length: total }, (_, i) => client.request(address, i, { timeoutMs: 60_000 })),
    );
    await until(() => held.length > 10_000);
    holding = false;
    for (const release of held.splice(0)) release();
    const values = await answers;
    assert.equal(values.length, total);
    assert.ok(values.every((value, i) => value === i));
  });

  it('close() fails requests still in flight with UNAVAILABLE', async () => {
    const { transport: s, address } = await server();
    let arrived = false;
    s.onRequest(() => {
      arrived = true;
      return new Promise(() => {});
    });
    const client = transport('client');
    const inflight = client.request(address, 'hang', { timeoutMs: 30_000 });
    await until(() => arrived);
    const failed = expectShoalError(inflight, 'UNAVAILABLE');
    await client.close();
    const err = await failed;
    assert.equal((err.details as { sent: boolean }).sent, true);
    await expectShoalError(client.request(address, 'after close', { timeoutMs: 1000 }), 'UNAVAILABLE');
    assert.equal(client.stats().connections, 0);
  });
});
