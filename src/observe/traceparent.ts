/**
 * Reading W3C traceparent headers without the tracing SDK, so logging and metrics can name a
 * trace even in processes that never start tracing.
 */

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
