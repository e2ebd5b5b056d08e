/**
 * Properties of the TCP transport's wire codec (frame.ts) and of a connection reading it
 * (connection.ts): what goes in comes out, however the bytes are cut, and bytes that are not a
 * frame end in a protocol error, never in a throw of another kind, a frame nobody sent or an
 * unbounded buffer.
 *
 * Seeded: FUZZ_SEED=<n> replays a run (a failure prints its seed and counterexample);
 * FUZZ_MINUTES=<m> runs each property for m minutes instead of its default number of cases.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { checkAsyncProperty } from '../support/fuzz-budget.ts';
import { Packr } from 'msgpackr';
import { silentLogger } from '../../src/core/logger.ts';
import type { PeerAddress, Transport } from '../../src/transport/index.ts';
import { createTcpTransport } from '../../src/transport/tcp/index.ts';
import {
  FRAME_HEADER_BYTES,
  FrameDecoder,
  FrameTooLargeError,
  MalformedFrameError,
  decodeFrame,
  encodeFrame,
  encodeRequestFrame,
  encodeResponseFrame,
  type Frame,
} from '../../src/transport/tcp/frame.ts';
import { computeProof, createNonce } from '../../src/transport/tcp/handshake.ts';
import { eventually } from '../support/eventually.ts';
import { framed, rawPeer, writeChunks, type RawPeer } from '../support/rpc-raw-peer.ts';

// ---------------------------------------------------------------------------------------------
// Values a frame may carry, and what the codec turns them into.

const EDGE_NUMBERS = [
  0, -0, 1, -1, 127, 128, 255, 256, -32, -33, -128, -129, 32767, 32768, 65535, 65536, -32768, -32769,
  2 ** 31 - 1, 2 ** 31, -(2 ** 31), -(2 ** 31) - 1, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER,
  Number.MIN_SAFE_INTEGER, 2 ** 53, 2 ** 63, -(2 ** 63), 2 ** 64, Number.MAX_VALUE, -Number.MAX_VALUE,
  Number.MIN_VALUE, Number.EPSILON, 0.1, 1.5, Infinity, -Infinity, NaN,
];

const numberValue = fc.oneof(fc.constantFrom(...EDGE_NUMBERS), fc.integer(), fc.maxSafeInteger(), fc.double());

/** Strings of any code point, of UTF-16 units (lone surrogates too), and at msgpack's length edges. */
const textValue = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 40 }) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom(31, 32, 255, 256, 65535, 65536), fc.constantFrom('a', 'é', '€', '😀'), fc.integer({ min: -1, max: 1 }))
      .map(([bytes, unit, nudge]) => unit.repeat(Math.max(0, Math.floor(bytes / Buffer.byteLength(unit)) + nudge))),
  },
);

const keyValue = fc.oneof(
  { weight: 5, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom('__proto__', '__proto_', 'constructor', 'toString', 'valueOf', 'hasOwnProperty', 't', 'id', 'body', 'ok', 'err', '0', '01', '4294967295', '-1', ''),
  },
);

const binaryValue = fc.oneof(
  { weight: 4, arbitrary: fc.uint8Array({ maxLength: 64 }) },
  { weight: 1, arbitrary: fc.constantFrom(255, 256, 65535, 65536).map((n) => new Uint8Array(n).fill(7)) },
);

/** Containers at msgpack's size edges (fixarray/array16/array32, fixmap/map16). */
const wideContainer = fc.oneof(
  fc.constantFrom(15, 16, 65535, 65536).map((n) => new Array<number>(n).fill(1)),
  fc.constantFrom(15, 16, 17).map((n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]))),
);

const { value: anyValue } = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom(null, true, false, undefined),
    numberValue,
    textValue,
    binaryValue,
    wideContainer,
    tie('array'),
    tie('object'),
  ),
  array: fc.array(tie('value'), { maxLength: 6 }),
  object: fc.array(fc.tuple(keyValue, tie('value')), { maxLength: 6 }).map((entries) => Object.fromEntries(entries)),
}));

/**
 * What a value becomes after a trip through the codec. Everything arrives as sent except what
 * msgpack cannot say or msgpackr guards against, as with JSON: -0 arrives as 0 (integers have no
 * sign of zero), lone surrogates as U+FFFD (strings travel as UTF-8), binary as a Buffer, and a
 * key "__proto__" as "__proto_" (so a peer cannot set an object's prototype).
 */
function afterWire(value: unknown): unknown {
  if (typeof value === 'number') return Object.is(value, -0) ? 0 : value;
  if (typeof value === 'string') return value.toWellFormed();
  if (value instanceof Uint8Array) return Buffer.from(value);
  if (Array.isArray(value)) return value.map(afterWire);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      const wireKey = key.toWellFormed();
      out[wireKey === '__proto__' ? '__proto_' : wireKey] = afterWire(item);
    }
    return out;
  }
  return value;
}

// ---------------------------------------------------------------------------------------------
// Frames.

const frameId = fc.oneof(
  fc.nat(),
  fc.constantFrom(0, 1, 127, 128, 2 ** 31 - 1, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER),
  fc.maxSafeNat(),
);

const serviceName = fc.oneof(fc.stringMatching(/^[$a-z][a-zA-Z0-9.-]{0,30}$/), textValue);

/** A request body as the runtime sends it: [service, version, action, params, requestId, traceparent?, deadline?]. */
const callBody = fc
  .tuple(serviceName, fc.integer({ min: 0, max: 1000 }), serviceName, anyValue, fc.uuid(), fc.option(textValue), fc.option(numberValue))
  .map(([service, version, action, params, requestId, traceparent, deadline]) => {
    const call: unknown[] = [service, version, action, params, requestId];
    if (traceparent !== null || deadline !== null) call.push(traceparent, deadline);
    return call;
  });

const errorBody = fc.record({ code: fc.constantFrom('NOT_FOUND', 'INTERNAL', 'TIMEOUT'), message: textValue, details: anyValue });
const body = fc.oneof(callBody, anyValue);
const nonce = fc.oneof(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 40 }));

const frameArb: fc.Arbitrary<Frame> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ t: fc.constant('req' as const), id: frameId, body }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('res' as const), id: frameId, ok: anyValue }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('res' as const), id: frameId, err: fc.oneof(errorBody, anyValue) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('msg' as const), body }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('hello' as const), nonce }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('auth' as const), nodeId: textValue, proof: nonce, nonce }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('welcome' as const), nodeId: textValue, proof: nonce }) },
  { weight: 1, arbitrary: fc.constant({ t: 'denied' as const }) },
);

/** Whether a decoded value is a frame, by the wire format in frame.ts's header, written independently. */
function isFrameValue(value: unknown): boolean {
  const isId = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  const isBytes = (v: unknown): boolean => v instanceof Uint8Array;
  if (Array.isArray(value)) {
    if (value.length === 3) return (value[0] === 0 || value[0] === 1 || value[0] === 2) && isId(value[1]);
    return value.length === 2 && value[0] === 3;
  }
  if (value === null || typeof value !== 'object') return false;
  const f = value as Record<string, unknown>;
  switch (f.t) {
    case 'req':
      return isId(f.id) && 'body' in f;
    case 'res':
      return isId(f.id) && ('ok' in f || 'err' in f);
    case 'msg':
      return 'body' in f;
    case 'hello':
      return isBytes(f.nonce);
    case 'auth':
      return typeof f.nodeId === 'string' && isBytes(f.proof) && isBytes(f.nonce);
    case 'welcome':
      return typeof f.nodeId === 'string' && isBytes(f.proof);
    case 'denied':
      return true;
    default:
      return false;
  }
}

const packr = new Packr({ useRecords: false });

/** Values of a frame's shape with one part wrong, and values of no frame's shape at all. */
const wrongShapeValue: fc.Arbitrary<unknown> = fc
  .oneof(
    anyValue,
    fc.tuple(fc.oneof(fc.constantFrom(0, 1, 2, 3, 4, -1), anyValue), anyValue, anyValue),
    fc.tuple(fc.oneof(fc.constantFrom(0, 1, 2, 3), anyValue), anyValue),
    fc.array(fc.constantFrom(0, 1, 2, 3), { maxLength: 5 }),
    frameArb.chain((frame) =>
      fc.tuple(fc.constantFrom(...Object.keys(frame)), anyValue, fc.boolean()).map(([key, replacement, drop]) => {
        const broken: Record<string, unknown> = { ...frame };
        if (drop) delete broken[key];
        else broken[key] = replacement;
        return broken;
      }),
    ),
    fc.record({ t: fc.oneof(anyValue, fc.record({ toString: anyValue, valueOf: anyValue }, { requiredKeys: [] })) }),
  )
  .filter((value) => !isFrameValue(afterWire(value)));

// ---------------------------------------------------------------------------------------------
// Feeding a decoder the way a connection does.

interface FeedResult {
  frames: Frame[];
  /** The error that would close the connection, if any. */
  error: unknown;
  /** Whether an error of a kind other than the codec's two came out. */
  foreign: boolean;
}

function chunksAt(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const point of points) {
    if (point > from) chunks.push(bytes.subarray(from, point));
    from = Math.max(from, point);
  }
  if (from < bytes.length || chunks.length === 0) chunks.push(bytes.subarray(from));
  return chunks;
}

/** Feeds chunks until the first error; checks after every chunk that the buffer stays bounded. */
function feed(decoder: FrameDecoder, chunks: Buffer[]): FeedResult {
  const result: FeedResult = { frames: [], error: undefined, foreign: false };
  const onBody = (b: Buffer): boolean => {
    try {
      result.frames.push(decodeFrame(b));
      return true;
    } catch (err) {
      result.error = err;
      return false;
    }
  };
  for (const chunk of chunks) {
    try {
      decoder.push(chunk, onBody);
    } catch (err) {
      result.error = err;
    }
    if (result.error !== undefined) break;
    assert.ok(
      decoder.bufferedBytes <= decoder.maxFrameBytes + FRAME_HEADER_BYTES,
      `decoder holds ${decoder.bufferedBytes} bytes over a limit of ${decoder.maxFrameBytes}`,
    );
  }
  if (result.error !== undefined) {
    result.foreign = !(result.error instanceof MalformedFrameError || result.error instanceof FrameTooLargeError);
  }
  return result;
}

/** The frame bodies in a whole buffer, cut by reading headers one after another. */
function referenceBodies(bytes: Buffer, limit: number): { bodies: Buffer[]; tooLarge: number | null; rest: number } {
  const bodies: Buffer[] = [];
  let offset = 0;
  while (bytes.length - offset >= FRAME_HEADER_BYTES) {
    const length = bytes.readUInt32BE(offset);
    if (length > limit) return { bodies, tooLarge: length, rest: bytes.length - offset };
    if (offset + FRAME_HEADER_BYTES + length > bytes.length) break;
    bodies.push(bytes.subarray(offset + FRAME_HEADER_BYTES, offset + FRAME_HEADER_BYTES + length));
    offset += FRAME_HEADER_BYTES + length;
  }
  return { bodies, tooLarge: null, rest: bytes.length - offset };
}

/** The body length a frame's header announces, or 0 while the header itself is incomplete. */
function announcedLength(bytes: Buffer): number {
  return bytes.length >= FRAME_HEADER_BYTES ? bytes.readUInt32BE(0) : 0;
}

const cutsArb = fc.array(fc.nat(), { maxLength: 12 });

// ---------------------------------------------------------------------------------------------

describe('fuzz: rpc frame codec', () => {
  it('round-trips any frame through encoding, the decoder and decodeFrame', async () => {
    await checkAsyncProperty('frame round trip', 300,
      fc.property(frameArb, (frame) => {
        const bytes = encodeFrame(frame);
        assert.equal(bytes.readUInt32BE(0), bytes.length - FRAME_HEADER_BYTES);
        if (frame.t === 'req') assert.ok(encodeRequestFrame(frame.id, frame.body).equals(bytes));
        if (frame.t === 'res') {
          const failed = 'err' in frame;
          assert.ok(encodeResponseFrame(frame.id, failed ? frame.err : frame.ok, failed).equals(bytes));
        }
        const decoder = new FrameDecoder(bytes.length);
        const { frames, error } = feed(decoder, [bytes]);
        assert.equal(error, undefined);
        assert.deepStrictEqual(frames, [afterWire(frame)]);
        assert.equal(decoder.bufferedBytes, 0);
      }));
  });

  it('yields the same frames in the same order however the bytes are cut', async () => {
    await checkAsyncProperty('frame split invariance', 150,
      fc.property(fc.array(frameArb, { minLength: 1, maxLength: 6 }), cutsArb, (frames, cuts) => {
        const encoded = frames.map((f) => encodeFrame(f));
        const bytes = Buffer.concat(encoded);
        const expected = frames.map(afterWire);
        const limit = Math.max(...encoded.map((e) => e.length - FRAME_HEADER_BYTES));

        // Arbitrary cuts, with the bytes held checked after every chunk.
        const decoder = new FrameDecoder(limit);
        const out: Frame[] = [];
        let fed = 0;
        let consumed = 0;
        for (const chunk of chunksAt(bytes, cuts)) {
          fed += chunk.length;
          decoder.push(chunk, (b) => {
            out.push(decodeFrame(b));
            consumed += FRAME_HEADER_BYTES + b.length;
            return true;
          });
          assert.equal(decoder.bufferedBytes, fed - consumed, 'the decoder holds exactly the bytes of the frame not yet complete');
        }
        assert.deepStrictEqual(out, expected);
        assert.equal(decoder.bufferedBytes, 0);

        // Every single cut point, when the stream is small enough to try them all.
        if (bytes.length <= 1024) {
          for (let cut = 0; cut <= bytes.length; cut++) {
            const { frames: got, error } = feed(new FrameDecoder(limit), [bytes.subarray(0, cut), bytes.subarray(cut)]);
            assert.equal(error, undefined, `cut at ${cut}`);
            assert.equal(got.length, frames.length, `cut at ${cut}: one frame out per frame in`);
            assert.deepStrictEqual(got, expected, `cut at ${cut}`);
          }
        }
      }));
  });

  it('turns bad bytes after good frames into exactly one codec error, never a foreign throw or an unsent frame', async () => {
    const limitSlack = fc.integer({ min: 0, max: 64 });
    type Bad =
      | { kind: 'too-large'; bytes: Buffer; length: number }
      | { kind: 'malformed'; bytes: Buffer }
      | { kind: 'truncated'; bytes: Buffer };
    const badArb = (limit: number): fc.Arbitrary<Bad> =>
      fc.oneof(
        fc
          .tuple(fc.oneof(fc.constant(limit + 1), fc.integer({ min: limit + 1, max: 0xffffffff })), fc.uint8Array({ maxLength: 16 }))
          .map(([length, tail]): Bad => {
            const header = Buffer.alloc(FRAME_HEADER_BYTES);
            header.writeUInt32BE(length, 0);
            return { kind: 'too-large', bytes: Buffer.concat([header, tail]), length };
          }),
        // A strict prefix of a msgpack value, or a value with bytes after it: undecodable.
        fc.tuple(anyValue, fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 8 }), fc.boolean()).map(([v, cut, extra, prefix]): Bad => {
          const packed = packr.pack(v);
          const bad = prefix ? packed.subarray(0, cut % packed.length) : Buffer.concat([packed, extra]);
          return { kind: 'malformed', bytes: framed(bad) };
        }),
        fc.constantFrom([0xc1], [0xc1, 0xc0], [0x91], [0xdd, 0xff, 0xff, 0xff, 0xff], [0xdf, 0xff, 0xff, 0xff, 0xff], [0xdb, 0x7f, 0xff, 0xff, 0xff]).map(
          (b): Bad => ({ kind: 'malformed', bytes: framed(Uint8Array.from(b)) }),
        ),
        wrongShapeValue.map((v): Bad => ({ kind: 'malformed', bytes: framed(packr.pack(v)) })),
        // A frame cut short at the end of the stream: nothing yet, nothing wrong.
        fc.tuple(frameArb, fc.nat()).map(([f, cut]): Bad => {
          const bytes = encodeFrame(f);
          return { kind: 'truncated', bytes: bytes.subarray(0, cut % bytes.length) };
        }),
      );
    const caseArb = fc
      .tuple(fc.array(frameArb, { maxLength: 4 }), limitSlack)
      .chain(([good, slack]) => {
        const encoded = good.map((f) => encodeFrame(f));
        const limit = Math.max(64, ...encoded.map((e) => e.length - FRAME_HEADER_BYTES)) + slack;
        return fc.record({
          good: fc.constant(good),
          encoded: fc.constant(encoded),
          limit: fc.constant(limit),
          // Bad frames that are not meant to be oversized stay under the limit, whole or cut short.
          bad: badArb(limit).filter((b) => b.kind === 'too-large' || announcedLength(b.bytes) <= limit),
          after: fc.uint8Array({ maxLength: 64 }),
          cuts: cutsArb,
        });
      });
    await checkAsyncProperty('frame garbage after good frames', 300,
      fc.property(caseArb, ({ good, encoded, limit, bad, after, cuts }) => {
        const tail = bad.kind === 'truncated' ? bad.bytes : Buffer.concat([bad.bytes, after]);
        const bytes = Buffer.concat([...encoded, tail]);
        const decoder = new FrameDecoder(limit);
        const result = feed(decoder, chunksAt(bytes, cuts));
        assert.equal(result.foreign, false, `a foreign error came out of the codec: ${String(result.error)}`);
        assert.deepStrictEqual(result.frames, good.map(afterWire), 'exactly the good frames, nothing after them');
        switch (bad.kind) {
          case 'too-large':
            assert.ok(result.error instanceof FrameTooLargeError, `expected FrameTooLargeError, got ${String(result.error)}`);
            assert.equal(result.error.length, bad.length);
            assert.equal(result.error.limit, limit);
            break;
          case 'malformed':
            assert.ok(result.error instanceof MalformedFrameError, `expected MalformedFrameError, got ${String(result.error)}`);
            break;
          case 'truncated':
            assert.equal(result.error, undefined);
            assert.equal(decoder.bufferedBytes, bad.bytes.length);
            break;
        }
      }));
  });

  it('decodes arbitrary bytes the same however they are cut, with only codec errors and a bounded buffer', async () => {
    const bytesArb = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      // Plausible headers, so that bodies of arbitrary bytes are read too, not only oversized lengths.
      fc.array(fc.uint8Array({ maxLength: 40 }).map((b) => framed(b)), { maxLength: 5 }).map((parts) => Buffer.concat(parts)),
      fc.tuple(fc.array(frameArb, { maxLength: 3 }), fc.uint8Array({ maxLength: 100 })).map(([frames, junk]) =>
        Buffer.concat([...frames.map((f) => encodeFrame(f)), junk]),
      ),
    );
    await checkAsyncProperty('frame arbitrary bytes', 400,
      fc.property(bytesArb, fc.integer({ min: 0, max: 512 }), cutsArb, (raw, limit, cuts) => {
        const bytes = Buffer.from(raw);
        // The oracle: headers read off the whole buffer, each body decoded, stopping at the first error.
        const reference = referenceBodies(bytes, limit);
        const expected: Frame[] = [];
        let expectedError: 'malformed' | 'too-large' | null = null;
        for (const b of reference.bodies) {
          try {
            expected.push(decodeFrame(b));
          } catch {
            expectedError = 'malformed';
            break;
          }
        }
        if (expectedError === null && reference.tooLarge !== null) expectedError = 'too-large';

        const decoder = new FrameDecoder(limit);
        const result = feed(decoder, chunksAt(bytes, cuts));
        assert.equal(result.foreign, false, `a foreign error came out of the codec: ${String(result.error)}`);
        assert.deepStrictEqual(result.frames, expected);
        if (expectedError === 'malformed') assert.ok(result.error instanceof MalformedFrameError);
        else if (expectedError === 'too-large') assert.ok(result.error instanceof FrameTooLargeError);
        else {
          assert.equal(result.error, undefined);
          assert.equal(decoder.bufferedBytes, reference.rest);
        }
      }));
  });
});

// ---------------------------------------------------------------------------------------------
// The same bytes through a real connection: an authenticated peer on a socket.

const HOST = '127.0.0.1';
const SECRET = 'fuzz-frame-secret';
/** Above the largest frame the generators make (a 64 KiB binary or array plus its envelope). */
const MAX_FRAME_BYTES = 1024 * 1024;

/** A peer speaking the wire protocol by hand, authenticated with the real secret. */
async function authenticatedPeer(address: PeerAddress, nodeId: string): Promise<RawPeer> {
  const peer = await rawPeer(address, 1 << 24);
  const { socket, frames } = peer;
  await eventually(() => frames.length >= 1, { message: 'the hello frame' });
  const hello = frames[0];
  assert.equal(hello.t, 'hello');
  socket.write(encodeFrame({ t: 'auth', nodeId, proof: computeProof(SECRET, hello.nonce, nodeId), nonce: createNonce() }));
  await eventually(() => frames.length >= 2, { message: 'the welcome frame' });
  assert.equal(frames[1].t, 'welcome');
  return peer;
}

describe('fuzz: rpc frames through a connection', () => {
  let server: Transport;
  let address: PeerAddress;
  let honest: Transport;
  /** Everything the handlers saw, in order. */
  const seen: Array<{ kind: 'req' | 'msg'; body: unknown; from: string }> = [];

  before(async () => {
    server = createTcpTransport({ nodeId: 'server', secret: SECRET, logger: silentLogger, maxFrameBytes: MAX_FRAME_BYTES });
    server.onRequest(async (payload, from) => {
      seen.push({ kind: 'req', body: payload, from: from.nodeId });
      return { echo: payload };
    });
    server.onNotify((payload, from) => {
      seen.push({ kind: 'msg', body: payload, from: from.nodeId });
    });
    address = await server.listen({ host: HOST, port: 0 });
    honest = createTcpTransport({ nodeId: 'honest', secret: SECRET, logger: silentLogger });
  });

  after(async () => {
    await Promise.all([honest.close(), server.close()]);
  });

  it('delivers exactly the frames sent, in order, and closes on the first bad one while serving others', async () => {
    const callArb = fc.oneof(
      fc.record({ t: fc.constant('req' as const), body }),
      fc.record({ t: fc.constant('msg' as const), body }),
      // Answers to requests never made are dropped without a word.
      fc.record({ t: fc.constant('res' as const), id: frameId, ok: anyValue }),
    );
    const badArb = fc.option(
      fc.oneof(
        wrongShapeValue.map((v) => framed(packr.pack(v))),
        fc.uint8Array({ minLength: 1, maxLength: 40 }).map((b) => framed(Buffer.concat([Buffer.from([0xc1]), b]))),
        fc.constant(Buffer.from([0xff, 0xff, 0xff, 0xff])),
        // A handshake frame once authenticated is a protocol error.
        fc.constant(encodeFrame({ t: 'hello', nonce: createNonce() })),
      ),
    );
    await checkAsyncProperty('frame connection', 25,
      fc.asyncProperty(fc.array(callArb, { maxLength: 8 }), badArb, cutsArb, async (calls, bad, cuts) => {
        seen.length = 0;
        const rejectedBefore = server.stats().rejected;
        const peer = await authenticatedPeer(address, 'raw');
        try {
          const sent: Buffer[] = [];
          const requests = new Map<number, unknown>();
          calls.forEach((call, i) => {
            if (call.t === 'req') {
              requests.set(i, call.body);
              sent.push(encodeFrame({ t: 'req', id: i, body: call.body }));
            } else if (call.t === 'msg') {
              sent.push(encodeFrame(call));
            } else {
              sent.push(encodeFrame({ t: 'res', id: call.id, ok: call.ok }));
            }
          });
          if (bad !== null) sent.push(bad);
          await writeChunks(peer.socket, chunksAt(Buffer.concat(sent), cuts));

          const delivered = calls.flatMap((c) => (c.t === 'res' ? [] : [{ kind: c.t, body: afterWire(c.body), from: 'raw' }]));
          await eventually(() => seen.length >= delivered.length, { message: 'every frame to reach its handler' });
          if (bad !== null) {
            await peer.closed;
            await eventually(() => server.stats().rejected === rejectedBefore + 1, { message: 'the bad peer to be counted as rejected' });
          } else {
            await eventually(() => peer.frames.length === 2 + requests.size, { message: 'an answer to every request' });
            const answers = new Map<number, unknown>();
            for (const frame of peer.frames.slice(2)) {
              assert.equal(frame.t, 'res');
              if (frame.t !== 'res' || !('ok' in frame)) assert.fail(`expected an answer, got ${JSON.stringify(frame)}`);
              assert.equal(answers.has(frame.id), false, `request ${frame.id} answered twice`);
              answers.set(frame.id, frame.ok);
            }
            for (const [id, sentBody] of requests) assert.deepStrictEqual(answers.get(id), { echo: afterWire(sentBody) });
          }
          assert.deepStrictEqual(seen, delivered, 'the handlers saw exactly the frames sent, in order');
          assert.deepStrictEqual(await honest.request(address, 'still there?', { timeoutMs: 10_000 }), { echo: 'still there?' });
        } finally {
          peer.socket.destroy();
          await peer.closed;
        }
      }));
  });
});
