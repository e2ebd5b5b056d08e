/**
 * The head sent upstream, assembled from slices of the client's head: hop-by-hop headers
 * removed (kept for an Upgrade, which must reach the server), X-Forwarded-For appended to,
 * X-Forwarded-Proto/-Host and Forwarded added, and a traceparent generated when the client sent
 * none, so upstream and access log share it.
 */
import { randomFillSync } from 'node:crypto';
import { DROP, lineCount, lineIds, lineSpans, type RequestHead } from './request-head.ts';

/** What a connection contributes to every head it forwards, computed once per connection. */
export interface ClientOrigin {
  clientIp: string;
  /** "for=…;proto=…": the RFC 7239 element without the host. */
  forwardedElement: string;
  proto: string;
}

/** The client's address without the IPv4-mapped prefix. */
export function normalizeAddress(address: string | undefined): string {
  if (address === undefined) return '';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

export function clientOrigin(clientIp: string, proto: string): ClientOrigin {
  // RFC 7239 node: IPv6 addresses are bracketed and quoted.
  const node = clientIp.includes(':') ? `"[${clientIp}]"` : clientIp;
  return { clientIp, forwardedElement: `for=${node};proto=${proto}`, proto };
}

// Random ids come from a pooled buffer: one randomFillSync per 256 requests, not one per request.
const pool = Buffer.alloc(24 * 256);
let poolOffset = pool.length;
const hex = Buffer.from('0123456789abcdef', 'latin1');

function writeHex(out: Buffer, at: number, from: number, count: number): number {
  for (let i = 0; i < count; i++) {
    const byte = pool[from + i];
    out[at++] = hex[byte >> 4];
    out[at++] = hex[byte & 15];
  }
  return at;
}

/** Writes a fresh sampled W3C traceparent value at `at`; returns the offset after it. */
function writeTraceparent(out: Buffer, at: number): number {
  if (poolOffset >= pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  out[at++] = 0x30;
  out[at++] = 0x30;
  out[at++] = 0x2d;
  at = writeHex(out, at, poolOffset, 16);
  out[at++] = 0x2d;
  at = writeHex(out, at, poolOffset + 16, 8);
  out[at++] = 0x2d;
  out[at++] = 0x30;
  out[at++] = 0x31;
  poolOffset += 24;
  return at;
}

/** Where the trace id of a forwarded head is, for the access log (read only when logging). */
export interface TraceSource {
  traceBuf: Buffer | undefined;
  traceAt: number;
}

export function traceIdOf(source: TraceSource): string | null {
  return source.traceBuf === undefined ? null : source.traceBuf.toString('latin1', source.traceAt + 3, source.traceAt + 35);
}

const HTTP11_LINE_END = Buffer.from('HTTP/1.1\r\n', 'latin1');

/**
 * The upstream head for the request whose header lines the last parseRequestHead recorded.
 * `hostHeader` is used only for an HTTP/1.0 request without Host. Sets the trace source.
 */
export function upstreamHead(head: RequestHead, origin: ClientOrigin, hostHeader: string, trace: TraceSource): Buffer {
  const src = head.buf;
  const hostLength = head.hostEnd - head.hostStart;
  const ip = origin.clientIp;
  const bound = src.length + 256 + 2 * hostLength + 2 * ip.length + hostHeader.length + origin.forwardedElement.length;
  const out = Buffer.allocUnsafe(bound);
  // The request line, always as HTTP/1.1: the balancer keeps its upstream connections alive.
  let at = src.copy(out, 0, 0, head.targetEnd + 1);
  at += HTTP11_LINE_END.copy(out, at);
  for (let n = 0; n < lineCount; n++) {
    if ((lineIds[n] & DROP) !== 0) continue;
    const spanAt = n * 4;
    at += src.copy(out, at, lineSpans[spanAt], lineSpans[spanAt + 1] + 2);
  }
  if (head.hostStart === -1) at += out.write(`host: ${hostHeader}\r\n`, at, 'latin1');
  at += out.write(head.forwardedFor === undefined ? `x-forwarded-for: ${ip}\r\nx-forwarded-proto: ${origin.proto}\r\n` : `x-forwarded-for: ${head.forwardedFor}, ${ip}\r\nx-forwarded-proto: ${origin.proto}\r\n`, at, 'latin1');
  if (head.hostStart !== -1) {
    at += out.write('x-forwarded-host: ', at, 'latin1');
    at += src.copy(out, at, head.hostStart, head.hostEnd);
    at += out.write('\r\n', at, 'latin1');
  }
  at += out.write(head.forwarded === undefined ? `forwarded: ${origin.forwardedElement}` : `forwarded: ${head.forwarded}, ${origin.forwardedElement}`, at, 'latin1');
  if (head.hostStart !== -1) {
    at += out.write(';host="', at, 'latin1');
    // Quotes and backslashes would break out of the quoted-string; a valid Host has neither.
    for (let i = head.hostStart; i < head.hostEnd; i++) {
      const c = src[i];
      if (c !== 0x22 && c !== 0x5c) out[at++] = c;
    }
    out[at++] = 0x22;
  }
  out[at++] = 13;
  out[at++] = 10;
  if (head.traceparentStart === -1) {
    at += out.write('traceparent: ', at, 'latin1');
    trace.traceBuf = out;
    trace.traceAt = at;
    at = writeTraceparent(out, at);
    out[at++] = 13;
    out[at++] = 10;
  } else {
    trace.traceBuf = src;
    trace.traceAt = head.traceparentStart;
  }
  out[at++] = 13;
  out[at++] = 10;
  return out.subarray(0, at);
}
