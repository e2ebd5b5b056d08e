/**
 * What only the TCP driver has: its frames on the socket, its handshake and its log lines.
 * What every Transport must do is checked by test/conformance/transport-suite.ts.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import { silentLogger, type Logger } from '../../src/core/logger.ts';
import type { PeerAddress, Transport } from '../../src/transport/index.ts';
import { createTcpTransport, type TcpTransportOptions } from '../../src/transport/tcp/index.ts';
import { FrameDecoder, decodeFrame, encodeFrame, type Frame } from '../../src/transport/tcp/frame.ts';
import { computeProof, createNonce } from '../../src/transport/tcp/handshake.ts';
import { eventually } from '../support/eventually.ts';
import { expectShoalError } from '../support/shoal-errors.ts';

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

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
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

function rawSocket(address: PeerAddress): Socket {
  const socket = connect({ host: address.host, port: address.port });
  socket.on('error', () => {});
  // Flowing, so the server's hello is consumed and its close is seen as 'end' then 'close'.
  socket.resume();
  sockets.push(socket);
  return socket;
}

describe('tcp transport', () => {
  it('logs a failed handshake with the remote address', async () => {
    const records: LogRecord[] = [];
    const { transport: s, address } = await server('server', { logger: captureLogger(records) });
    const intruder = createTcpTransport({ nodeId: 'intruder', secret: 'wrong', logger: silentLogger });
    opened.push(intruder);
    await expectShoalError(intruder.request(address, 'let me in', { timeoutMs: 10_000 }), 'UNAUTHORIZED');
    await eventually(() => s.stats().rejected >= 1, { message: 'the server to count the rejected handshake' });
    const warning = records.find((r) => r.level === 'warn' && 'remoteAddress' in r.obj);
    assert.ok(warning, 'a warning names the remote address');
    assert.match(String((warning.obj as { remoteAddress: unknown }).remoteAddress), /^127\.0\.0\.1:\d+$/);
  });

  it('closes a socket that sends an unknown frame, an oversized header or a request before auth, and keeps serving others', async () => {
    const { transport: s, address } = await server('server', { maxFrameBytes: 1024 });
    const good = transport('good');
    assert.deepEqual(await good.request(address, 1, { timeoutMs: 5000 }), { echo: 1 });

    const unknownKind = rawSocket(address);
    unknownKind.write(encodeFrame({ t: 'bogus' } as unknown as Frame));
    await once(unknownKind, 'close');
    assert.equal(s.stats().rejected, 1);

    const oversized = rawSocket(address);
    oversized.write(Buffer.from([0xff, 0xff, 0xff, 0xff]));
    await once(oversized, 'close');
    assert.equal(s.stats().rejected, 2);

    const early = rawSocket(address);
    early.write(encodeFrame({ t: 'req', id: 1, body: 'sneaky' }));
    await once(early, 'close');
    assert.equal(s.stats().rejected, 3);

    assert.deepEqual(await good.request(address, 2, { timeoutMs: 5000 }), { echo: 2 });
    assert.equal(s.stats().connections, 1);
  });

  it('enforces maxFrameBytes on the header after authentication too', async () => {
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
    await eventually(() => frames.length === 1, { message: 'the hello frame' });
    const hello = frames[0];
    assert.equal(hello.t, 'hello');
    const nonce = createNonce();
    socket.write(encodeFrame({ t: 'auth', nodeId: 'raw', proof: computeProof(SECRET, hello.nonce, 'raw'), nonce }));
    await eventually(() => frames.length === 2, { message: 'the welcome frame' });
    assert.equal(frames[1].t, 'welcome');
    await eventually(() => s.stats().connections === 1, { message: 'the raw socket counted as a connection' });

    const header = Buffer.alloc(4);
    header.writeUInt32BE(1025, 0);
    socket.write(header);
    await once(socket, 'close');
    assert.equal(s.stats().rejected, 1);
    assert.equal(s.stats().connections, 0);
  });

  it('closes a connection that does not finish the handshake in time', async () => {
    const { transport: s, address } = await server('server', { handshakeTimeoutMs: 50 });
    const silent = rawSocket(address);
    await once(silent, 'close');
    assert.equal(s.stats().rejected, 1);
    assert.equal(s.stats().connections, 0);
  });
});
