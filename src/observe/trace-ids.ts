/**
 * Trace and span ids for calls that are propagated but not recorded. They come from pooled
 * random bytes refilled in bulk and hex-encoded in bulk too: asking the kernel for 24 bytes per
 * call, or hex-encoding them one call at a time, would cost more than the rest of the unsampled
 * path.
 *
 * New root traceparents are cut from a pool already written out as `00-{trace}-{span}-00`, one
 * after another. Gluing the parts per call would give V8 a rope of four strings, which the
 * encoder must first copy into a flat string, on every call; a cut of a flat pool needs no copy.
 */
import { randomFillSync } from 'node:crypto';

const ROOT_TRACEPARENT_CHARS = 55;
const ROOTS_PER_POOL = 1024;
const SPAN_POOL_BYTES = 65536;

const rootBytes = Buffer.allocUnsafe(24 * ROOTS_PER_POOL);
let rootPool = '';
let rootsLeft = 0;

const spanBytes = Buffer.allocUnsafe(SPAN_POOL_BYTES);
let spanHex = '';
let spanOffset = SPAN_POOL_BYTES;

function isAllZero(bytes: Buffer, at: number, length: number): boolean {
  for (let i = at; i < at + length; i++) if (bytes[i] !== 0) return false;
  return true;
}

function refillRoots(): void {
  const parts: string[] = [];
  while (parts.length < ROOTS_PER_POOL) {
    randomFillSync(rootBytes);
    const hex = rootBytes.toString('hex');
    for (let i = 0; i < ROOTS_PER_POOL && parts.length < ROOTS_PER_POOL; i++) {
      // All-zero ids are invalid in W3C trace context; at 2^-64 odds such an entry is skipped.
      if (isAllZero(rootBytes, 24 * i, 16) || isAllZero(rootBytes, 24 * i + 16, 8)) continue;
      parts.push(`00-${hex.slice(48 * i, 48 * i + 32)}-${hex.slice(48 * i + 32, 48 * i + 48)}-00`);
    }
  }
  // join builds one flat string; each cut below is a slice of it.
  rootPool = parts.join('');
  rootsLeft = ROOTS_PER_POOL;
}

/** A traceparent for a new, unsampled root: fresh random trace and span ids, flags 00. */
export function newRootTraceParent(): string {
  if (rootsLeft === 0) refillRoots();
  const at = (ROOTS_PER_POOL - rootsLeft--) * ROOT_TRACEPARENT_CHARS;
  return rootPool.slice(at, at + ROOT_TRACEPARENT_CHARS);
}

/** A random 8-byte span id as 16 hex digits, never all zeros. */
export function newSpanId(): string {
  for (;;) {
    if (spanOffset + 8 > SPAN_POOL_BYTES) {
      randomFillSync(spanBytes);
      spanHex = spanBytes.toString('hex');
      spanOffset = 0;
    }
    const at = spanOffset;
    spanOffset += 8;
    if (!isAllZero(spanBytes, at, 8)) return spanHex.slice(2 * at, 2 * at + 16);
  }
}
