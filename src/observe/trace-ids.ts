/**
 * Trace and span ids for calls that are propagated but not recorded. They come from one pooled
 * buffer of random bytes refilled in bulk, hex-encoded in bulk too: asking the kernel for 24
 * bytes per call, or hex-encoding them one call at a time, would cost more than the rest of the
 * unsampled path. An id is then a slice of the pooled hex text.
 */
import { randomFillSync } from 'node:crypto';

const poolBytes = 65536;
const pool = Buffer.allocUnsafe(poolBytes);
let poolHex = '';
let offset = poolBytes;

function take(bytes: number): number {
  if (offset + bytes > poolBytes) {
    randomFillSync(pool);
    poolHex = pool.toString('hex');
    offset = 0;
  }
  const at = offset;
  offset += bytes;
  return at;
}

function isAllZero(at: number, bytes: number): boolean {
  for (let i = at; i < at + bytes; i++) if (pool[i] !== 0) return false;
  return true;
}

/** A random 8-byte span id as 16 hex digits, never all zeros. */
export function newSpanId(): string {
  let at = take(8);
  while (isAllZero(at, 8)) at = take(8);
  return poolHex.slice(2 * at, 2 * at + 16);
}

/** A new trace id and span id together (48 hex digits, trace id first), in one encoding step. */
export function newTraceAndSpanIds(): string {
  let at = take(24);
  while (isAllZero(at, 16) || isAllZero(at + 16, 8)) at = take(24);
  return poolHex.slice(2 * at, 2 * at + 48);
}

/**
 * The last 32 bits of the trace id at the start of `ids` (hex digits 24 to 31), which ratio
 * sampling compares with its threshold; read in place, without a slice or a parse per call.
 */
export function traceIdLowBits(ids: string): number {
  let bits = 0;
  for (let i = 24; i < 32; i++) {
    const code = ids.charCodeAt(i);
    bits = (bits << 4) | (code <= 57 ? code - 48 : code - 87);
  }
  return bits >>> 0;
}
