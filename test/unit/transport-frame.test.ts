import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  FrameDecoder,
  FrameTooLargeError,
  MalformedFrameError,
  decodeFrame,
  encodeFrame,
  type Frame,
} from '../../src/transport/tcp/frame.ts';

function collect(decoder: FrameDecoder, chunks: Buffer[]): Frame[] {
  const frames: Frame[] = [];
  for (const chunk of chunks) {
    decoder.push(chunk, (body) => {
      frames.push(decodeFrame(body));
      return true;
    });
  }
  return frames;
}

describe('frame codec', () => {
  it('round-trips plain objects with a big-endian length header', () => {
    const frame: Frame = { t: 'req', id: 7, body: { name: 'links', tags: ['a', 'b'], nested: { n: 1.5 } } };
    const encoded = encodeFrame(frame);
    assert.equal(encoded.readUInt32BE(0), encoded.length - 4);
    assert.deepEqual(collect(new FrameDecoder(1024), [encoded]), [frame]);
  });

  it('reassembles a frame split across chunk boundaries, one byte at a time', () => {
    const frame: Frame = { t: 'msg', body: 'x'.repeat(300) };
    const encoded = encodeFrame(frame);
    const chunks: Buffer[] = [];
    for (let i = 0; i < encoded.length; i++) chunks.push(encoded.subarray(i, i + 1));
    const decoder = new FrameDecoder(1024);
    assert.deepEqual(collect(decoder, chunks), [frame]);
    assert.equal(decoder.bufferedBytes, 0);
  });

  it('decodes several frames in one chunk, and a chunk ending mid-frame', () => {
    const frames: Frame[] = [
      { t: 'req', id: 1, body: 1 },
      { t: 'res', id: 1, ok: 'one' },
      { t: 'res', id: 2, err: { code: 'NOT_FOUND', message: 'no' } },
      { t: 'msg', body: null },
    ];
    const all = Buffer.concat(frames.map(encodeFrame));
    const cut = all.length - 3;
    const decoder = new FrameDecoder(1024);
    const first = collect(decoder, [all.subarray(0, cut)]);
    assert.deepEqual(first, frames.slice(0, 3));
    assert.deepEqual(collect(decoder, [all.subarray(cut)]), frames.slice(3));
  });

  it('rejects an oversized header before its body arrives', () => {
    const decoder = new FrameDecoder(1024);
    const header = Buffer.alloc(4);
    header.writeUInt32BE(1025, 0);
    let delivered = 0;
    // The header arrives in two pieces and no body byte is ever sent.
    decoder.push(header.subarray(0, 2), () => ++delivered > 0);
    assert.throws(
      () => decoder.push(header.subarray(2), () => ++delivered > 0),
      (err: unknown) => err instanceof FrameTooLargeError && err.length === 1025,
    );
    assert.equal(delivered, 0);
  });

  it('accepts a frame exactly at the limit', () => {
    const encoded = encodeFrame({ t: 'msg', body: 'y' });
    const decoder = new FrameDecoder(encoded.length - 4);
    assert.equal(collect(decoder, [encoded]).length, 1);
  });

  it('stops delivering when the callback returns false', () => {
    const all = Buffer.concat([encodeFrame({ t: 'msg', body: 1 }), encodeFrame({ t: 'msg', body: 2 })]);
    let seen = 0;
    new FrameDecoder(1024).push(all, () => {
      seen++;
      return false;
    });
    assert.equal(seen, 1);
  });

  it('rejects undecodable bytes, unknown kinds and wrong field types', () => {
    const bad: Buffer[] = [
      Buffer.from([0xc1]),
      Buffer.from([0x93, 0x01]),
      encodeFrame({ t: 'nope' } as unknown as Frame).subarray(4),
      encodeFrame({ t: 'req', id: 'x', body: 1 } as unknown as Frame).subarray(4),
      encodeFrame({ t: 'res', id: 1 } as unknown as Frame).subarray(4),
      encodeFrame({ t: 'auth', nodeId: 3, proof: 'p', nonce: 'n' } as unknown as Frame).subarray(4),
      encodeFrame([1, 2] as unknown as Frame).subarray(4),
    ];
    for (const body of bad) assert.throws(() => decodeFrame(body), MalformedFrameError);
  });
});
