/**
 * Properties of the TCP transport's handshake (handshake.ts, connection.ts): whatever a peer
 * without the secret sends in its place, no handler runs for it, it is disconnected and counted
 * as rejected, and honest peers are still served; a genuine proof changed in any way, replayed
 * or reflected is refused, by the accepting side and by the dialling side.
 *
 * Seeded: FUZZ_SEED=<n> replays a run (a failure prints its seed and counterexample);
 * FUZZ_MINUTES=<m> runs each property for m minutes instead of its default number of cases.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { checkAsyncProperty } from '../support/fuzz-budget.ts';
import { Packr } from 'msgpackr';
import { ShoalError } from '../../src/core/errors.ts';
import { silentLogger, type Logger } from '../../src/core/logger.ts';
import type { PeerAddress, Transport } from '../../src/transport/index.ts';
import { createTcpTransport } from '../../src/transport/tcp/index.ts';
import { FRAME_HEADER_BYTES, FrameDecoder, decodeFrame, encodeFrame, type AuthFrame, type Frame } from '../../src/transport/tcp/frame.ts';
import { computeProof, computeWelcomeProof, createNonce } from '../../src/transport/tcp/handshake.ts';
import { eventually } from '../support/eventually.ts';
import { framed, rawPeer, writeChunks, type RawPeer } from '../support/rpc-raw-peer.ts';

// ---------------------------------------------------------------------------------------------
// Inputs.

const HOST = '127.0.0.1';
const SECRET = 'fuzz-handshake-secret';
/** Short, so that input cut short mid-frame (which only a timeout can end) costs little. */
const HANDSHAKE_TIMEOUT_MS = 300;

const packr = new Packr({ useRecords: false });

function header(length: number): Buffer {
  const out = Buffer.alloc(FRAME_HEADER_BYTES);
  out.writeUInt32BE(length, 0);
  return out;
}

const text = fc.oneof(fc.string({ unit: 'binary', maxLength: 24 }), fc.constantFrom('honest', 'server', '', '__proto__', 'toString'));
const bytes32 = fc.uint8Array({ minLength: 32, maxLength: 32 });
const someBytes = fc.oneof(bytes32, fc.uint8Array({ maxLength: 40 }));

const { value: anyValue } = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constantFrom(null, true, false, undefined, 0, -1, 2 ** 32, Number.MAX_SAFE_INTEGER, NaN, 1.5),
    fc.integer(),
    text,
    someBytes,
    tie('array'),
    tie('object'),
  ),
  array: fc.array(tie('value'), { maxLength: 4 }),
  object: fc.array(fc.tuple(fc.oneof(text, fc.constantFrom('t', 'nodeId', 'proof', 'nonce')), tie('value')), { maxLength: 4 }).map((e) => Object.fromEntries(e)),
}));

/** Handshake frames of every kind with arbitrary contents, frames of the open phase, and anything. */
const handshakeLike = fc.oneof(
  fc.record({ t: fc.constant('auth'), nodeId: text, proof: someBytes, nonce: someBytes }),
  fc.record({ t: fc.constant('auth'), nodeId: fc.oneof(text, anyValue), proof: anyValue, nonce: anyValue }, { requiredKeys: ['t'] }),
  fc.record({ t: fc.constant('hello'), nonce: someBytes }),
  fc.record({ t: fc.constant('welcome'), nodeId: text, proof: someBytes }),
  fc.constant({ t: 'denied' }),
  fc.record({ t: fc.constantFrom('req', 'res', 'msg'), id: fc.nat(), body: anyValue, ok: anyValue }),
  fc.tuple(fc.constantFrom(0, 1, 2), fc.nat(), anyValue),
  fc.tuple(fc.constant(3), anyValue),
  anyValue,
);

const cutsArb = fc.array(fc.nat(), { maxLength: 6 });

function chunksAt(data: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const point of points) {
    if (point > from) chunks.push(data.subarray(from, point));
    from = Math.max(from, point);
  }
  if (from < data.length) chunks.push(data.subarray(from));
  return chunks;
}

// ---------------------------------------------------------------------------------------------
// A peer speaking the wire protocol by hand.

async function helloOf(peer: RawPeer): Promise<Uint8Array> {
  const hello = await eventually(() => peer.frames[0], { message: 'the hello frame' });
  if (hello.t !== 'hello') assert.fail(`expected hello, got ${hello.t}`);
  return hello.nonce;
}

function closedWithin(peer: RawPeer, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server kept ${peer.address} open for ${ms} ms`)), ms);
    void peer.closed.then(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

// ---------------------------------------------------------------------------------------------
// The server under test, an honest peer of it, and what its handlers and logs saw.

interface Warning {
  remoteAddress: unknown;
  cause: unknown;
}

const warnings: Warning[] = [];
const captureLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: (obj) => warnings.push(obj as Warning),
  error: () => {},
  child: () => captureLogger,
};

let server: Transport;
let address: PeerAddress;
let honest: Transport;
/** Node ids the handlers ran for. */
const handledFor: string[] = [];

before(async () => {
  server = createTcpTransport({ nodeId: 'server', secret: SECRET, logger: captureLogger, handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS });
  server.onRequest(async (payload, from) => {
    handledFor.push(from.nodeId);
    return { echo: payload };
  });
  server.onNotify((_payload, from) => {
    handledFor.push(from.nodeId);
  });
  address = await server.listen({ host: HOST, port: 0 });
  honest = createTcpTransport({ nodeId: 'honest', secret: SECRET, logger: silentLogger });
  assert.deepEqual(await honest.request(address, 'hi', { timeoutMs: 10_000 }), { echo: 'hi' });
});

after(async () => {
  await Promise.all([honest.close(), server.close()]);
});

/**
 * What must hold after an unauthenticated peer had its go: it was closed and counted, it
 * reached no handler, and the server still answers, on an old connection and on a new one.
 */
async function assertRefused(peer: RawPeer, rejectedBefore: number): Promise<void> {
  await closedWithin(peer, HANDSHAKE_TIMEOUT_MS + 10_000);
  await eventually(() => warnings.some((w) => w.remoteAddress === peer.address), { message: `a warning naming ${peer.address}` });
  assert.ok(server.stats().rejected > rejectedBefore, 'the peer is counted as rejected');
  assert.ok(!peer.frames.some((f) => f.t === 'welcome'), 'no welcome for a peer without the secret');
  assert.ok(handledFor.every((id) => id === 'honest' || id === 'fresh'), `a handler ran for ${JSON.stringify(handledFor)}`);
  assert.deepEqual(await honest.request(address, 'still there?', { timeoutMs: 10_000 }), { echo: 'still there?' });
}

async function assertServesNewPeer(): Promise<void> {
  const fresh = createTcpTransport({ nodeId: 'fresh', secret: SECRET, logger: silentLogger });
  try {
    assert.deepEqual(await fresh.request(address, 'new', { timeoutMs: 10_000 }), { echo: 'new' });
  } finally {
    await fresh.close();
  }
}

describe('fuzz: rpc handshake, accepting side', () => {
  it('disconnects and counts a peer that sends arbitrary bytes instead of a handshake', async () => {
    const input = fc.oneof(
      { weight: 2, arbitrary: fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)) },
      // Plausible headers over arbitrary bodies, so the bodies are read and not only the lengths.
      { weight: 3, arbitrary: fc.array(fc.uint8Array({ maxLength: 60 }).map(framed), { minLength: 1, maxLength: 3 }).map((p) => Buffer.concat(p)) },
      // A length over the handshake's frame limit.
      { weight: 1, arbitrary: fc.integer({ min: 64 * 1024 + 1, max: 0xffffffff }).map(header) },
    );
    await checkAsyncProperty('handshake arbitrary bytes', 40,
      fc.asyncProperty(input, fc.boolean(), cutsArb, async (data, afterHello, cuts) => {
        const rejectedBefore = server.stats().rejected;
        const peer = await rawPeer(address);
        try {
          if (afterHello) await helloOf(peer);
          await writeChunks(peer.socket, chunksAt(data, cuts));
          await assertRefused(peer, rejectedBefore);
        } finally {
          peer.socket.destroy();
        }
      }));
    await assertServesNewPeer();
  });

  it('disconnects and counts a peer that sends msgpack values of any shape instead of a proof', async () => {
    await checkAsyncProperty('handshake msgpack values', 60,
      fc.asyncProperty(fc.array(handshakeLike, { minLength: 1, maxLength: 3 }), fc.boolean(), cutsArb, async (values, afterHello, cuts) => {
        const rejectedBefore = server.stats().rejected;
        const peer = await rawPeer(address);
        try {
          if (afterHello) await helloOf(peer);
          await writeChunks(peer.socket, chunksAt(Buffer.concat(values.map((v) => framed(packr.pack(v)))), cuts));
          await assertRefused(peer, rejectedBefore);
        } finally {
          peer.socket.destroy();
        }
      }));
    await assertServesNewPeer();
  });

  it('refuses a genuine proof changed in any way, or replayed from another connection', async () => {
    // One genuine exchange to replay: accepted where it was made, refused anywhere else.
    const first = await rawPeer(address);
    const genuine: AuthFrame = { t: 'auth', nodeId: 'replayed', proof: computeProof(SECRET, await helloOf(first), 'replayed'), nonce: createNonce() };
    first.socket.write(encodeFrame(genuine));
    await eventually(() => first.frames[1]?.t === 'welcome', { message: 'the genuine auth to be welcomed' });
    first.socket.destroy();

    type Mangle =
      | { kind: 'flip'; index: number; mask: number }
      | { kind: 'truncate'; length: number }
      | { kind: 'extend'; extra: Uint8Array }
      | { kind: 'other-node'; nodeId: string }
      | { kind: 'other-secret'; secret: string }
      | { kind: 'welcome-proof' }
      | { kind: 'replay' };
    const mangleArb: fc.Arbitrary<Mangle> = fc.oneof(
      { weight: 4, arbitrary: fc.record({ kind: fc.constant('flip' as const), index: fc.nat(31), mask: fc.integer({ min: 1, max: 255 }) }) },
      fc.record({ kind: fc.constant('truncate' as const), length: fc.nat(31) }),
      fc.record({ kind: fc.constant('extend' as const), extra: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
      fc.record({ kind: fc.constant('other-node' as const), nodeId: text }),
      fc.record({ kind: fc.constant('other-secret' as const), secret: fc.string({ minLength: 1, maxLength: 24 }) }),
      fc.constant({ kind: 'welcome-proof' as const }),
      fc.constant({ kind: 'replay' as const }),
    );
    await checkAsyncProperty('handshake mangled proof', 60,
      fc.asyncProperty(text, mangleArb, async (nodeId, mangle) => {
        const rejectedBefore = server.stats().rejected;
        const peer = await rawPeer(address);
        try {
          const nonce = await helloOf(peer);
          const proof = computeProof(SECRET, nonce, nodeId);
          let auth: AuthFrame = { t: 'auth', nodeId, proof, nonce: createNonce() };
          switch (mangle.kind) {
            case 'flip':
              proof[mangle.index] ^= mangle.mask;
              break;
            case 'truncate':
              auth.proof = proof.subarray(0, mangle.length);
              break;
            case 'extend':
              auth.proof = Buffer.concat([proof, mangle.extra]);
              break;
            case 'other-node':
              fc.pre(mangle.nodeId !== nodeId);
              auth.nodeId = mangle.nodeId;
              break;
            case 'other-secret':
              fc.pre(mangle.secret !== SECRET);
              auth.proof = computeProof(mangle.secret, nonce, nodeId);
              break;
            case 'welcome-proof':
              // What the server itself would prove over this nonce is no proof of the client.
              auth.proof = computeWelcomeProof(SECRET, nonce, nodeId);
              break;
            case 'replay':
              auth = genuine;
              break;
          }
          peer.socket.write(encodeFrame(auth));
          await eventually(() => peer.frames[1]?.t === 'denied', { message: 'the denied frame' });
          await assertRefused(peer, rejectedBefore);
        } finally {
          peer.socket.destroy();
        }
      }));
    await assertServesNewPeer();
  });
});

// ---------------------------------------------------------------------------------------------
// The dialling side against a server that does not know the secret.

/** A listener that speaks the server's half of the handshake as the test tells it to. */
interface FakeServer {
  server: Server;
  address: PeerAddress;
  /** Frames each accepted connection sent, one array per connection. */
  received: Frame[][];
  sockets: Set<Socket>;
}

async function fakeServer(onFrame: (frame: Frame, socket: Socket, received: Frame[]) => void, helloNonce: () => Promise<Uint8Array>): Promise<FakeServer> {
  const received: Frame[][] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const frames: Frame[] = [];
    received.push(frames);
    const decoder = new FrameDecoder(1 << 20);
    socket.on('data', (chunk: Buffer) =>
      decoder.push(chunk, (b) => {
        const frame = decodeFrame(b);
        frames.push(frame);
        onFrame(frame, socket, frames);
        return true;
      }),
    );
    void helloNonce().then((nonce) => socket.write(encodeFrame({ t: 'hello', nonce })));
  });
  server.listen(0, HOST);
  await once(server, 'listening');
  const bound = server.address();
  if (bound === null || typeof bound !== 'object') throw new Error('fake server has no address');
  return { server, address: { host: HOST, port: bound.port }, received, sockets };
}

async function closeServer(fake: FakeServer): Promise<void> {
  await new Promise<void>((resolve) => {
    fake.server.close(() => resolve());
    for (const socket of fake.sockets) socket.destroy();
  });
}

async function expectUnauthorized(promise: Promise<unknown>): Promise<void> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof ShoalError, `expected a ShoalError, got ${String(err)}`);
    assert.equal(err.code, 'UNAUTHORIZED', `expected UNAUTHORIZED, got ${err.code}: ${err.message}`);
    return;
  }
  assert.fail('the client accepted a server that does not know the secret');
}

describe('fuzz: rpc handshake, dialling side', () => {
  it('refuses a welcome whose proof is changed, made for another nonce or node, or reflected from its own auth', async () => {
    type Forgery =
      | { kind: 'none' }
      | { kind: 'flip'; index: number; mask: number }
      | { kind: 'truncate'; length: number }
      | { kind: 'other-node'; nodeId: string }
      | { kind: 'other-nonce'; nonce: Uint8Array }
      | { kind: 'reflect' };
    const forgeryArb: fc.Arbitrary<Forgery> = fc.oneof(
      fc.constant({ kind: 'none' as const }),
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('flip' as const), index: fc.nat(31), mask: fc.integer({ min: 1, max: 255 }) }) },
      fc.record({ kind: fc.constant('truncate' as const), length: fc.nat(31) }),
      fc.record({ kind: fc.constant('other-node' as const), nodeId: text }),
      fc.record({ kind: fc.constant('other-nonce' as const), nonce: someBytes }),
      { weight: 2, arbitrary: fc.constant({ kind: 'reflect' as const }) },
    );
    let clients = 0;
    await checkAsyncProperty('handshake mangled welcome', 40,
      fc.asyncProperty(forgeryArb, text, async (forgery, serverId) => {
        const clientId = `client-${++clients}`;
        const client = createTcpTransport({ nodeId: clientId, secret: SECRET, logger: silentLogger, handshakeTimeoutMs: 5000 });
        // For a reflection the fake server needs a second connection from the client, given the
        // first connection's client nonce as its hello, to collect a proof over that nonce.
        let firstAuth: (auth: AuthFrame) => void = () => {};
        const firstAuthSeen = new Promise<AuthFrame>((resolve) => (firstAuth = resolve));
        let secondAuth: (auth: AuthFrame) => void = () => {};
        const secondAuthSeen = new Promise<AuthFrame>((resolve) => (secondAuth = resolve));

        const main = await fakeServer(
          (frame, socket) => {
            if (frame.t === 'auth') {
              firstAuth(frame);
              void welcomeFor(frame).then((welcome) => socket.write(encodeFrame(welcome)));
            } else if (frame.t === 'req') {
              socket.write(encodeFrame({ t: 'res', id: frame.id, ok: 'served by a fake' }));
            }
          },
          async () => createNonce(),
        );
        const helper = await fakeServer(
          (frame) => {
            if (frame.t === 'auth') secondAuth(frame);
          },
          async () => (await firstAuthSeen).nonce,
        );

        async function welcomeFor(auth: AuthFrame): Promise<Frame> {
          const genuine = computeWelcomeProof(SECRET, auth.nonce, serverId);
          switch (forgery.kind) {
            case 'none':
              return { t: 'welcome', nodeId: serverId, proof: genuine };
            case 'flip':
              genuine[forgery.index] ^= forgery.mask;
              return { t: 'welcome', nodeId: serverId, proof: genuine };
            case 'truncate':
              return { t: 'welcome', nodeId: serverId, proof: genuine.subarray(0, forgery.length) };
            case 'other-node':
              return { t: 'welcome', nodeId: forgery.nodeId === serverId ? `${serverId}!` : forgery.nodeId, proof: genuine };
            case 'other-nonce':
              return { t: 'welcome', nodeId: serverId, proof: computeWelcomeProof(SECRET, forgery.nonce, serverId) };
            case 'reflect': {
              const reflected = await secondAuthSeen;
              return { t: 'welcome', nodeId: reflected.nodeId, proof: reflected.proof };
            }
          }
        }

        try {
          const calls = [client.request(main.address, 'secret payload', { timeoutMs: 10_000 })];
          if (forgery.kind === 'reflect') calls.push(client.request(helper.address, 'second', { timeoutMs: 10_000 }).catch(() => null));
          if (forgery.kind === 'none') {
            assert.equal(await calls[0], 'served by a fake', 'the genuine welcome is accepted (the forgeries are not vacuous)');
          } else {
            await expectUnauthorized(calls[0]);
            const sentToFake = main.received.flat().filter((f) => f.t !== 'auth');
            assert.deepEqual(sentToFake, [], 'nothing but its proof reaches a server that does not know the secret');
          }
        } finally {
          await client.close();
          await Promise.all([closeServer(main), closeServer(helper)]);
        }
      }));
  });
});
