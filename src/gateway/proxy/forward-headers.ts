/**
 * Header rewriting between client and upstream, on Node's flat raw header arrays (name, value,
 * name, value, …) so names keep their case and no header object is built per request.
 */
import type { IncomingMessage } from 'node:http';
import { randomFillSync } from 'node:crypto';

/** What the balancer learned from the request headers while copying them. */
export interface ForwardedRequest {
  headers: string[];
  traceparent: string;
  /** The trace id within traceparent, for the access log. */
  traceId: string;
}

const traceparentPattern = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/;

// Random ids come from a pooled buffer: one randomFillSync per 256 requests, not one per request.
const pool = Buffer.alloc(24 * 256);
let poolOffset = pool.length;

/** A fresh W3C traceparent (sampled), for requests that arrive without one. */
export function newTraceparent(): string {
  if (poolOffset >= pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const traceId = pool.toString('hex', poolOffset, poolOffset + 16);
  const spanId = pool.toString('hex', poolOffset + 16, poolOffset + 24);
  poolOffset += 24;
  return `00-${traceId}-${spanId}-01`;
}

/** The client's address without the IPv4-mapped prefix. */
export function clientAddress(req: IncomingMessage): string {
  const address = req.socket.remoteAddress ?? '';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

/** RFC 7239 node: IPv6 addresses are bracketed and quoted. */
function forwardedNode(ip: string): string {
  return ip.includes(':') ? `"[${ip}]"` : ip;
}

/** Header names a Connection header lists, beyond the usual keep-alive/close/upgrade. */
function connectionListed(value: string | undefined): Set<string> | undefined {
  if (value === undefined) return undefined;
  let listed: Set<string> | undefined;
  for (const token of value.split(',')) {
    const name = token.trim().toLowerCase();
    if (name === '' || name === 'close' || name === 'keep-alive' || name === 'upgrade') continue;
    (listed ??= new Set()).add(name);
  }
  return listed;
}

/**
 * The headers to send upstream: hop-by-hop headers removed (kept for an Upgrade, which must
 * reach the server), X-Forwarded-For appended to, X-Forwarded-Proto/-Host and Forwarded added,
 * and a traceparent generated when the client sent none so upstream and access log share it.
 */
export function upstreamRequestHeaders(req: IncomingMessage, clientIp: string, proto: string, upgrade: boolean): ForwardedRequest {
  const raw = req.rawHeaders;
  const headers: string[] = [];
  let forwardedFor: string | undefined;
  let forwarded: string | undefined;
  let host: string | undefined;
  let traceparent: string | undefined;
  let connection: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    const value = raw[i + 1];
    switch (name.toLowerCase()) {
      case 'connection':
        connection = value;
        if (upgrade) break;
        continue;
      case 'upgrade':
        if (upgrade) break;
        continue;
      case 'keep-alive':
      case 'proxy-connection':
      case 'te':
      case 'trailer':
      case 'x-forwarded-proto':
      case 'x-forwarded-host':
        continue;
      case 'x-forwarded-for':
        forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`;
        continue;
      case 'forwarded':
        forwarded = forwarded === undefined ? value : `${forwarded}, ${value}`;
        continue;
      case 'host':
        host = value;
        break;
      case 'traceparent':
        if (traceparentPattern.test(value)) traceparent = value;
        else continue;
        break;
    }
    headers.push(name, value);
  }
  const listed = connectionListed(connection);
  const filtered = listed === undefined ? headers : removeListed(headers, listed);
  filtered.push('x-forwarded-for', forwardedFor === undefined ? clientIp : `${forwardedFor}, ${clientIp}`, 'x-forwarded-proto', proto);
  let element = `for=${forwardedNode(clientIp)};proto=${proto}`;
  if (host !== undefined) {
    filtered.push('x-forwarded-host', host);
    element += `;host="${host.replace(/["\\]/g, '')}"`;
  }
  filtered.push('forwarded', forwarded === undefined ? element : `${forwarded}, ${element}`);
  if (traceparent === undefined) {
    traceparent = newTraceparent();
    filtered.push('traceparent', traceparent);
  }
  return { headers: filtered, traceparent, traceId: traceparent.slice(3, 35) };
}

function removeListed(headers: string[], listed: Set<string>): string[] {
  const kept: string[] = [];
  for (let i = 0; i < headers.length; i += 2) if (!listed.has(headers[i].toLowerCase())) kept.push(headers[i], headers[i + 1]);
  return kept;
}

/** The upstream response's headers for the client: hop-by-hop ones removed. */
export function clientResponseHeaders(raw: string[], extra: readonly string[]): string[] {
  const headers: string[] = [];
  let listed: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    switch (name.toLowerCase()) {
      case 'connection':
        listed = connectionListed(raw[i + 1]);
        continue;
      case 'keep-alive':
      case 'proxy-connection':
      case 'te':
      case 'trailer':
      case 'upgrade':
        continue;
    }
    headers.push(name, raw[i + 1]);
  }
  const result = listed === undefined ? headers : removeListed(headers, listed);
  for (let i = 0; i < extra.length; i++) result.push(extra[i]);
  return result;
}
