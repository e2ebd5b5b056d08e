/**
 * Reading W3C traceparent headers without the tracing SDK, so logging and metrics can name a
 * trace even in processes that never start tracing.
 */
import { parseTraceParent as parseW3c } from '@opentelemetry/core';

// version "-" trace-id(32 hex) "-" parent-id(16 hex) "-" flags(2 hex)
const traceparentPattern = /^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/;
const invalidTraceId = '00000000000000000000000000000000';
const invalidSpanId = '0000000000000000';

/** The trace id of a traceparent, or undefined when absent or malformed. */
export function traceIdOf(traceparent: string | undefined): string | undefined {
  if (traceparent === undefined) return undefined;
  const match = traceparentPattern.exec(traceparent);
  if (!match || match[1] === invalidTraceId) return undefined;
  return match[1];
}

/** The span id (the caller's span) of a traceparent, or undefined when absent or malformed. */
export function spanIdOf(traceparent: string | undefined): string | undefined {
  if (traceparent === undefined) return undefined;
  const match = traceparentPattern.exec(traceparent);
  if (!match || match[2] === invalidSpanId) return undefined;
  return match[2];
}

/** What a hop needs from its caller's traceparent to continue the trace. */
export interface TraceParent {
  traceId: string;
  /** The caller recorded its span, so this hop records too. */
  sampled: boolean;
}

const zeroTraceId = '0'.repeat(32);
const zeroSpanId = '0'.repeat(16);

/** The value of one lowercase hex digit's character code. */
function hexDigit(code: number): number {
  return code <= 57 ? code - 48 : code - 87;
}

/**
 * The last 32 bits of a traceparent's trace id (hex digits 27 to 34 of the header), which ratio
 * sampling compares with its threshold; read in place, without a slice or a parse per call.
 */
export function traceIdLowBits(traceparent: string): number {
  let bits = 0;
  for (let i = 27; i < 35; i++) bits = (bits << 4) | hexDigit(traceparent.charCodeAt(i));
  return bits >>> 0;
}

/** 0 for the character codes of lowercase hex digits, 1 for every other code below 256. */
const notLowerHex = new Uint8Array(256).fill(1);
for (const digit of '0123456789abcdef') notLowerHex[digit.charCodeAt(0)] = 0;

/** Non-zero unless the code is a lowercase hex digit (codes from 256 up set the high bits). */
function notHex(code: number): number {
  return notLowerHex[code & 0xff] | (code >> 8);
}

/**
 * Version 00 with nothing after the flags: what Shoal and most tracers send. Runs on every call,
 * so the digits are checked through a table with the results OR-ed together: random hex digits
 * make a digit-or-letter branch mispredict about every other character, which cost 2.5 times
 * as much as the table.
 */
function isCommonForm(traceparent: string): boolean {
  if (traceparent.length !== 55) return false;
  if (traceparent.charCodeAt(0) !== 48 || traceparent.charCodeAt(1) !== 48 || traceparent.charCodeAt(2) !== 45) return false;
  if (traceparent.charCodeAt(35) !== 45 || traceparent.charCodeAt(52) !== 45) return false;
  let bad = notHex(traceparent.charCodeAt(53)) | notHex(traceparent.charCodeAt(54));
  for (let i = 3; i < 35; i++) bad |= notHex(traceparent.charCodeAt(i));
  for (let i = 36; i < 52; i++) bad |= notHex(traceparent.charCodeAt(i));
  return bad === 0;
}

/**
 * The flags of a valid traceparent in the common form (version 00, nothing after the flags), or
 * -1 for anything else, which parseTraceParent then judges. Spares the object and the trace id
 * copy on the path every unrecorded hop takes: its new traceparent reuses the caller's prefix.
 */
export function commonFormFlags(traceparent: string): number {
  if (!isCommonForm(traceparent)) return -1;
  if (traceparent.startsWith(zeroTraceId, 3) || traceparent.startsWith(zeroSpanId, 36)) return -1;
  return (hexDigit(traceparent.charCodeAt(53)) << 4) | hexDigit(traceparent.charCodeAt(54));
}

/**
 * Parses a traceparent as OpenTelemetry's W3C propagator does (unknown future versions with extra
 * fields accepted, version ff and zero ids refused); undefined when absent or invalid.
 */
export function parseTraceParent(traceparent: string | undefined): TraceParent | undefined {
  if (traceparent === undefined) return undefined;
  if (isCommonForm(traceparent)) {
    if (traceparent.startsWith(zeroTraceId, 3) || traceparent.startsWith(zeroSpanId, 36)) return undefined;
    return { traceId: traceparent.slice(3, 35), sampled: (hexDigit(traceparent.charCodeAt(54)) & 1) === 1 };
  }
  const parsed = parseW3c(traceparent);
  return parsed ? { traceId: parsed.traceId, sampled: (parsed.traceFlags & 1) === 1 } : undefined;
}
