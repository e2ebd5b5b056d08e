import { ShoalError, type CallMeta, type CallRequest, type InboundCall } from '../core/index.ts';

/**
 * A call as it travels between nodes: a tuple rather than a map, since every call pays for
 * encoding and decoding it. Trailing optional fields are left out, and null marks a gap:
 *   [service, version, action, params, requestId, traceparent?, deadline?, tracestate?]
 * The caller's node id is not sent: the receiving side knows it from the authenticated
 * connection, which a peer cannot forge.
 */
export type CallFrame = [string, number, string, unknown, string, (string | null)?, (number | null)?, (string | null)?];

/** What travels between nodes for an event; checked on arrival since peers can be buggy. */
export interface EventFrame {
  k: 'event';
  e: string;
  p: unknown;
  m: CallMeta;
  mode: 'emit' | 'broadcast';
  s: string;
  v: number;
}

export function encodeCallFrame(call: CallRequest): CallFrame {
  const { service, version, action, params, meta } = call;
  const { requestId, traceparent, deadline, tracestate } = meta;
  // Each shape as one literal, so the array is allocated once at its final length.
  if (tracestate !== undefined) return [service, version, action, params, requestId, traceparent ?? null, deadline ?? null, tracestate];
  if (deadline !== undefined) return [service, version, action, params, requestId, traceparent ?? null, deadline];
  if (traceparent !== undefined) return [service, version, action, params, requestId, traceparent];
  return [service, version, action, params, requestId];
}

function optional<T>(value: unknown, check: (value: unknown) => value is T): value is T | null | undefined {
  return value === undefined || value === null || check(value);
}

const isString = (value: unknown): value is string => typeof value === 'string';
const isNumber = (value: unknown): value is number => typeof value === 'number';

/** Reads a call frame sent by callerNodeId; throws BAD_REQUEST for anything malformed. */
export function parseCallFrame(payload: unknown, callerNodeId: string): InboundCall {
  if (!Array.isArray(payload) || payload.length < 5 || payload.length > 8) throw malformedCall();
  const [service, version, action, params, requestId, traceparent, deadline, tracestate] = payload as unknown[];
  if (
    typeof service !== 'string' || typeof version !== 'number' || typeof action !== 'string' || typeof requestId !== 'string' ||
    !optional(traceparent, isString) || !optional(deadline, isNumber) || !optional(tracestate, isString)
  ) {
    throw malformedCall();
  }
  const meta: CallMeta = { requestId, callerNodeId };
  if (typeof traceparent === 'string') meta.traceparent = traceparent;
  if (typeof tracestate === 'string') meta.tracestate = tracestate;
  if (typeof deadline === 'number') meta.deadline = deadline;
  return { service, version, action, params, meta, fromNodeId: callerNodeId };
}

function malformedCall(): ShoalError {
  return new ShoalError('BAD_REQUEST', 'malformed call frame');
}

function isMeta(value: unknown): value is CallMeta {
  return typeof value === 'object' && value !== null && typeof (value as CallMeta).requestId === 'string';
}

export function parseEventFrame(payload: unknown): EventFrame | undefined {
  const f = payload as Partial<EventFrame> | null;
  if (
    typeof f !== 'object' || f === null || f.k !== 'event' || typeof f.e !== 'string' || typeof f.s !== 'string' ||
    typeof f.v !== 'number' || (f.mode !== 'emit' && f.mode !== 'broadcast') || !isMeta(f.m)
  ) {
    return undefined;
  }
  return f as EventFrame;
}
