/**
 * The wire codec: every frame is a 4-byte big-endian body length followed by a msgpack body.
 * Encoding and decoding are kept apart from sockets so the codec can be tested on bytes alone.
 *
 * Requests, answers and messages travel as short tuples tagged by a small integer, since every
 * call pays for encoding and decoding them: [0, id, body] request, [1, id, value] answer,
 * [2, id, error] failed answer, [3, body] message. Handshake frames are rare and stay maps.
 */
import { Packr, Unpackr, RESERVE_START_SPACE } from 'msgpackr';

export const FRAME_HEADER_BYTES = 4;
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;

/** Frames exchanged once a connection is authenticated. */
export type RequestFrame = { t: 'req'; id: number; body: unknown };
export type ResponseFrame =
  | { t: 'res'; id: number; ok: unknown }
  | { t: 'res'; id: number; err: unknown };
export type NotifyFrame = { t: 'msg'; body: unknown };

/** Frames of the handshake (see handshake.ts). */
export type HelloFrame = { t: 'hello'; nonce: Uint8Array };
export type AuthFrame = { t: 'auth'; nodeId: string; proof: Uint8Array; nonce: Uint8Array };
export type WelcomeFrame = { t: 'welcome'; nodeId: string; proof: Uint8Array };
export type DeniedFrame = { t: 'denied' };
export type HandshakeFrame = HelloFrame | AuthFrame | WelcomeFrame | DeniedFrame;

export type Frame = RequestFrame | ResponseFrame | NotifyFrame | HandshakeFrame;

/** A frame the peer sent that cannot be understood; the connection that sent it is closed. */
export class MalformedFrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedFrameError';
  }
}

/** A header announced a body above the limit; raised before any of that body is buffered. */
export class FrameTooLargeError extends Error {
  readonly length: number;
  readonly limit: number;

  constructor(length: number, limit: number) {
    super(`frame of ${length} bytes exceeds the limit of ${limit}`);
    this.name = 'FrameTooLargeError';
    this.length = length;
    this.limit = limit;
  }
}

// useRecords: false keeps plain objects plain on the wire, so any msgpack peer can read them.
const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false });

const TAG_REQUEST = 0;
const TAG_ANSWER = 1;
const TAG_FAILURE = 2;
const TAG_MESSAGE = 3;

/**
 * Packs a wire value with its length header in one buffer. msgpackr reserves the header bytes in
 * front of the body, which saves a second allocation and a copy per frame.
 */
function packFramed(value: unknown): Buffer {
  const framed = packr.pack(value, RESERVE_START_SPACE | FRAME_HEADER_BYTES);
  framed.writeUInt32BE(framed.length - FRAME_HEADER_BYTES, 0);
  return framed;
}

/** Encodes a request frame; what encodeFrame({ t: 'req', id, body }) gives, without the object. */
export function encodeRequestFrame(id: number, body: unknown): Buffer {
  return packFramed([TAG_REQUEST, id, body]);
}

/** Encodes an answer (or, when failed, an error) to request id. */
export function encodeResponseFrame(id: number, value: unknown, failed: boolean): Buffer {
  return packFramed([failed ? TAG_FAILURE : TAG_ANSWER, id, value]);
}

/** Encodes a frame with its length header in one buffer. */
export function encodeFrame(frame: Frame): Buffer {
  switch (frame.t) {
    case 'req':
      return packFramed([TAG_REQUEST, frame.id, frame.body]);
    case 'res':
      if ('err' in frame) return packFramed([TAG_FAILURE, frame.id, frame.err]);
      if ('ok' in frame) return packFramed([TAG_ANSWER, frame.id, frame.ok]);
      break;
    case 'msg':
      return packFramed([TAG_MESSAGE, frame.body]);
  }
  // Handshake frames, and anything malformed (which the peer will reject), go as they are.
  return packFramed(frame);
}

function isBytes(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array;
}

function isFrameId(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** Decodes and checks one frame body; throws MalformedFrameError for anything unexpected. */
export function decodeFrame(body: Uint8Array): Frame {
  return frameFromValue(unpackBody(body));
}

/** Decodes a frame body without checking its shape; throws MalformedFrameError when undecodable. */
export function unpackBody(body: Uint8Array): unknown {
  try {
    return unpackr.unpack(body);
  } catch (err) {
    throw new MalformedFrameError(`undecodable frame: ${(err as Error).message}`);
  }
}

/** The tag of a well-formed request, answer or failure tuple, or -1 for anything else. */
export function callTupleTag(value: unknown): number {
  if (!Array.isArray(value) || value.length !== 3 || !isFrameId(value[1])) return -1;
  const tag: unknown = value[0];
  return tag === TAG_REQUEST || tag === TAG_ANSWER || tag === TAG_FAILURE ? tag : -1;
}

export { TAG_REQUEST, TAG_ANSWER, TAG_FAILURE };

/** Checks a decoded frame body; throws MalformedFrameError for anything unexpected. */
export function frameFromValue(value: unknown): Frame {
  if (Array.isArray(value)) return fromTuple(value as unknown[]);
  if (value === null || typeof value !== 'object') throw new MalformedFrameError('frame is neither a tuple nor a map');
  const f = value as Record<string, unknown>;
  switch (f.t) {
    case 'req':
      if (isFrameId(f.id) && 'body' in f) return f as RequestFrame;
      break;
    case 'res':
      if (isFrameId(f.id) && ('ok' in f || 'err' in f)) return f as ResponseFrame;
      break;
    case 'msg':
      if ('body' in f) return f as NotifyFrame;
      break;
    case 'hello':
      if (isBytes(f.nonce)) return f as HelloFrame;
      break;
    case 'auth':
      if (typeof f.nodeId === 'string' && isBytes(f.proof) && isBytes(f.nonce)) return f as AuthFrame;
      break;
    case 'welcome':
      if (typeof f.nodeId === 'string' && isBytes(f.proof)) return f as WelcomeFrame;
      break;
    case 'denied':
      return f as DeniedFrame;
    default:
      throw new MalformedFrameError(`unknown frame kind: ${describeTag(f.t)}`);
  }
  throw new MalformedFrameError(`frame of kind ${String(f.t)} has wrong fields`);
}

/**
 * A peer-sent tag, for an error message. Not String(tag): a decoded map such as
 * { toString: null } cannot be converted and would throw a TypeError instead of the
 * MalformedFrameError that callers expect.
 */
function describeTag(tag: unknown): string {
  if (tag === null || typeof tag !== 'object') return String(tag).slice(0, 32);
  return Array.isArray(tag) ? 'an array' : 'a map';
}

function fromTuple(tuple: unknown[]): Frame {
  const tag = tuple[0];
  if (tuple.length === 3 && isFrameId(tuple[1])) {
    if (tag === TAG_REQUEST) return { t: 'req', id: tuple[1], body: tuple[2] };
    if (tag === TAG_ANSWER) return { t: 'res', id: tuple[1], ok: tuple[2] };
    if (tag === TAG_FAILURE) return { t: 'res', id: tuple[1], err: tuple[2] };
  } else if (tuple.length === 2 && tag === TAG_MESSAGE) {
    return { t: 'msg', body: tuple[1] };
  }
  throw new MalformedFrameError(`malformed frame tuple of ${tuple.length} items tagged ${describeTag(tag)}`);
}

/**
 * Splits a byte stream into frame bodies. Whole frames inside a chunk are handed out as views of
 * that chunk without copying; only a frame that straddles chunks is gathered and copied once.
 */
export class FrameDecoder {
  /** Largest body accepted; can be raised once the peer is authenticated. */
  maxFrameBytes: number;
  private partial: Buffer[] = [];
  private partialBytes = 0;
  /** Total bytes (header included) of the frame being gathered, or -1 while its header is incomplete. */
  private partialFrameBytes = -1;

  constructor(maxFrameBytes: number) {
    this.maxFrameBytes = maxFrameBytes;
  }

  /** Bytes held for a frame not yet complete. */
  get bufferedBytes(): number {
    return this.partialBytes;
  }

  /**
   * Feeds bytes and calls onBody for each complete body, in order. onBody returns false to stop
   * (the connection is closing). Throws FrameTooLargeError as soon as an oversized header is seen.
   */
  push(chunk: Buffer, onBody: (body: Buffer) => boolean): void {
    let buf = chunk;
    if (this.partialBytes > 0) {
      this.partial.push(chunk);
      this.partialBytes += chunk.length;
      if (this.partialFrameBytes < 0) {
        if (this.partialBytes < FRAME_HEADER_BYTES) return;
      } else if (this.partialBytes < this.partialFrameBytes) {
        return;
      }
      buf = this.partial.length === 1 ? this.partial[0] : Buffer.concat(this.partial, this.partialBytes);
      this.partial = [];
      this.partialBytes = 0;
      this.partialFrameBytes = -1;
    }

    let offset = 0;
    while (buf.length - offset >= FRAME_HEADER_BYTES) {
      const length = buf.readUInt32BE(offset);
      if (length > this.maxFrameBytes) throw new FrameTooLargeError(length, this.maxFrameBytes);
      const end = offset + FRAME_HEADER_BYTES + length;
      if (end > buf.length) break;
      const body = buf.subarray(offset + FRAME_HEADER_BYTES, end);
      offset = end;
      if (!onBody(body)) return;
    }

    if (offset < buf.length) {
      const rest = offset === 0 ? buf : buf.subarray(offset);
      this.partial.push(rest);
      this.partialBytes = rest.length;
      if (rest.length >= FRAME_HEADER_BYTES) {
        this.partialFrameBytes = FRAME_HEADER_BYTES + rest.readUInt32BE(0);
      }
    }
  }
}
