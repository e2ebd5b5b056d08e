import { ShoalError, type CallMeta } from '../core/index.ts';

/** What travels between nodes for a call and an event; checked on arrival since peers can be buggy. */
export interface CallFrame {
  k: 'call';
  s: string;
  v: number;
  a: string;
  p: unknown;
  m: CallMeta;
}

export interface EventFrame {
  k: 'event';
  e: string;
  p: unknown;
  m: CallMeta;
  mode: 'emit' | 'broadcast';
  s: string;
  v: number;
}

function isMeta(value: unknown): value is CallMeta {
  return typeof value === 'object' && value !== null && typeof (value as CallMeta).requestId === 'string';
}

export function parseCallFrame(payload: unknown): CallFrame {
  const f = payload as Partial<CallFrame> | null;
  if (
    typeof f !== 'object' || f === null || f.k !== 'call' || typeof f.s !== 'string' || typeof f.a !== 'string' ||
    typeof f.v !== 'number' || !isMeta(f.m)
  ) {
    throw new ShoalError('BAD_REQUEST', 'malformed call frame');
  }
  return f as CallFrame;
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
