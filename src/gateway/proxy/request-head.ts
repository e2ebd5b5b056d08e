/**
 * A strict parser for HTTP/1.x request heads, straight from the bytes the client sent. It
 * validates every byte (a proxy that is lenient where the server behind it is strict invites
 * request smuggling), learns what the balancer needs (framing, persistence, Host, forwarding
 * headers, keys for rate limits and hashing), and records each header line's offsets so the
 * head sent upstream is assembled from slices of the original rather than rebuilt as strings.
 */
import {
  CONN_CLOSE,
  CONN_KEEP_ALIVE,
  CONN_OTHER,
  CONN_UPGRADE,
  CR,
  H_CONNECTION,
  H_CONTENT_LENGTH,
  H_COOKIE,
  H_FORWARDED,
  H_HOST,
  H_OTHER,
  H_TRACEPARENT,
  H_TRANSFER_ENCODING,
  H_UPGRADE,
  H_X_FORWARDED_FOR,
  LF,
  connectionFlags,
  connectionListed,
  equalsLower,
  headerId,
  parseLength,
  requestTransferCoding,
  TE_CHUNKED,
  TE_MALFORMED,
  targetChar,
  tokenChar,
  validHost,
  valueChar,
} from './http-syntax.ts';

/** More header lines than any real client sends; beyond it the head counts as too large. */
export const MAX_HEADER_LINES = 1000;

/**
 * Offsets of the last parsed head's header lines: [line start, line end (its CR), value start,
 * value end] per line, and the header id per line (with DROP set for lines not to forward).
 * Module-level because the upstream head is assembled right after parsing, synchronously, and
 * a per-request array would be an allocation on every request.
 */
export const lineSpans = new Int32Array(MAX_HEADER_LINES * 4);
export const lineIds = new Uint8Array(MAX_HEADER_LINES);
export const DROP = 0x80;
export let lineCount = 0;

/** What a request's header names the balancer looks up besides the ones it always reads. */
export interface HeadLookups {
  /** Lower-case name of the rate limit's key header. */
  keyHeader: Buffer | undefined;
  /** Lower-case name of the hash key header. */
  hashHeader: Buffer | undefined;
  wantCookie: boolean;
}

export const noLookups: HeadLookups = { keyHeader: undefined, hashHeader: undefined, wantCookie: false };

export class RequestHead {
  /** The head's bytes: request line, header lines and the blank line. */
  readonly buf: Buffer;
  method = '';
  targetStart = 0;
  targetEnd = 0;
  http10 = false;
  /** Whether the client wants the connection kept after this exchange. */
  keepAlive = true;
  /** -1 without a Content-Length. */
  contentLength = -1;
  chunked = false;
  /** Connection: upgrade with an Upgrade header. */
  upgrade = false;
  hostStart = -1;
  hostEnd = -1;
  /** Valid traceparent value's start, -1 when none. */
  traceparentStart = -1;
  forwardedFor: string | undefined = undefined;
  forwarded: string | undefined = undefined;
  keyValue: string | undefined = undefined;
  hashValue: string | undefined = undefined;
  cookie: string | undefined = undefined;

  constructor(buf: Buffer) {
    this.buf = buf;
  }

  get target(): string {
    return this.buf.toString('latin1', this.targetStart, this.targetEnd);
  }

  get hasBody(): boolean {
    return this.chunked || this.contentLength > 0;
  }
}

const methodStrings = ['GET', 'POST', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'];
const methodBytes = methodStrings.map((name) => Buffer.from(name, 'latin1'));

/** Common methods as constant strings: most requests then allocate no method string. */
function methodOf(buf: Buffer, end: number): string {
  outer: for (let m = 0; m < methodBytes.length; m++) {
    const name = methodBytes[m];
    if (name.length !== end) continue;
    for (let i = 0; i < end; i++) if (buf[i] !== name[i]) continue outer;
    return methodStrings[m];
  }
  return buf.toString('latin1', 0, end);
}

const HTTP1 = Buffer.from('HTTP/1.', 'latin1');

function isTraceparent(buf: Buffer, start: number, end: number): boolean {
  if (end - start !== 55) return false;
  for (let i = 0; i < 55; i++) {
    const c = buf[start + i];
    if (i === 2 || i === 35 || i === 52) {
      if (c !== 0x2d) return false;
    } else if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) {
      return false;
    }
  }
  return true;
}

function join(previous: string | undefined, value: string): string {
  return previous === undefined ? value : `${previous}, ${value}`;
}

/** The result of a failed parse: the status to answer with and why. */
export interface HeadError {
  status: 400 | 431 | 501;
  message: string;
}

function bad(message: string): HeadError {
  return { status: 400, message };
}

/**
 * Parses the head in buf[0, end), where `end` is just past the blank line. On success the
 * header lines are in lineSpans/lineIds until the next parse.
 */
export function parseRequestHead(buf: Buffer, end: number, lookups: HeadLookups, upgradeAllowed = true): RequestHead | HeadError {
  // Request line: method SP request-target SP HTTP/1.x CRLF
  let i = 0;
  while (tokenChar[buf[i]] === 1) i++;
  if (i === 0 || buf[i] !== 0x20) return bad('malformed request line: method');
  const head = new RequestHead(buf);
  head.method = methodOf(buf, i);
  const targetStart = ++i;
  while (targetChar[buf[i]] === 1) i++;
  if (i === targetStart || buf[i] !== 0x20) return bad('malformed request line: target');
  // Origin-form ("/path?query") only, and "*" for OPTIONS. The absolute-form
  // ("http://host/path") is refused rather than forwarded: its authority and the Host header
  // could disagree, and servers differ on which one wins. CONNECT's authority-form gets its
  // 501 below.
  if (buf[targetStart] !== 0x2f && !(buf[targetStart] === 0x2a && i === targetStart + 1 && head.method === 'OPTIONS') && head.method !== 'CONNECT') {
    return bad('malformed request line: the target must start with "/"');
  }
  head.targetStart = targetStart;
  head.targetEnd = i;
  i++;
  if (!buf.subarray(i, i + 7).equals(HTTP1) || (buf[i + 7] !== 0x31 && buf[i + 7] !== 0x30) || buf[i + 8] !== CR || buf[i + 9] !== LF) {
    return bad('malformed request line: version');
  }
  head.http10 = buf[i + 7] === 0x30;
  i += 10;

  let connection = 0;
  let hasUpgrade = false;
  let transferEncoding = false;
  let listed: Set<string> | undefined;
  let count = 0;
  const bodyEnd = end - 2;
  while (i < bodyEnd) {
    if (count === MAX_HEADER_LINES) return { status: 431, message: 'too many request header fields' };
    const lineStart = i;
    while (tokenChar[buf[i]] === 1) i++;
    const nameEnd = i;
    // Obsolete line folding, spaces before the colon and empty names are all refused.
    if (nameEnd === lineStart || buf[i] !== 0x3a) return bad('malformed header field name');
    i++;
    while (buf[i] === 0x20 || buf[i] === 9) i++;
    const valueStart = i;
    while (valueChar[buf[i]] === 1) i++;
    if (buf[i] !== CR || buf[i + 1] !== LF) return bad('malformed header field value');
    const lineEnd = i;
    let valueEnd = i;
    while (valueEnd > valueStart && (buf[valueEnd - 1] === 0x20 || buf[valueEnd - 1] === 9)) valueEnd--;
    i += 2;

    let id = headerId(buf, lineStart, nameEnd);
    switch (id) {
      case H_HOST:
        if (head.hostStart !== -1) return bad('more than one Host header');
        if (!validHost(buf, valueStart, valueEnd)) return bad('invalid Host header');
        head.hostStart = valueStart;
        head.hostEnd = valueEnd;
        break;
      case H_CONTENT_LENGTH: {
        const length = parseLength(buf, valueStart, valueEnd);
        // Two Content-Length headers are refused even when equal: a server that takes the list
        // ("5, 5") as invalid and one that takes the first would frame the body differently.
        if (head.contentLength !== -1) return bad('more than one Content-Length header');
        if (length < 0) return bad('invalid Content-Length');
        head.contentLength = length;
        break;
      }
      case H_TRANSFER_ENCODING:
        if (transferEncoding) return bad('more than one Transfer-Encoding header');
        transferEncoding = true;
        {
          const coding = requestTransferCoding(buf, valueStart, valueEnd);
          if (coding === TE_MALFORMED) return bad('invalid Transfer-Encoding');
          if (coding !== TE_CHUNKED) return { status: 501, message: 'unsupported Transfer-Encoding (only a lone chunked is accepted)' };
        }
        head.chunked = true;
        break;
      case H_CONNECTION: {
        const flags = connectionFlags(buf, valueStart, valueEnd);
        connection |= flags;
        if ((flags & CONN_OTHER) !== 0) connectionListed(buf.toString('latin1', valueStart, valueEnd), (listed ??= new Set()));
        id |= DROP;
        break;
      }
      case H_UPGRADE:
        hasUpgrade = true;
        id |= DROP;
        break;
      case H_X_FORWARDED_FOR:
        head.forwardedFor = join(head.forwardedFor, buf.toString('latin1', valueStart, valueEnd));
        id |= DROP;
        break;
      case H_FORWARDED:
        head.forwarded = join(head.forwarded, buf.toString('latin1', valueStart, valueEnd));
        id |= DROP;
        break;
      case H_TRACEPARENT:
        if (head.traceparentStart === -1 && isTraceparent(buf, valueStart, valueEnd)) head.traceparentStart = valueStart;
        else id |= DROP;
        break;
      case H_COOKIE:
        if (lookups.wantCookie) head.cookie = head.cookie === undefined ? buf.toString('latin1', valueStart, valueEnd) : `${head.cookie}; ${buf.toString('latin1', valueStart, valueEnd)}`;
        break;
      case H_OTHER: {
        const length = nameEnd - lineStart;
        const key = lookups.keyHeader;
        if (key !== undefined && head.keyValue === undefined && key.length === length && equalsLower(buf, lineStart, key)) head.keyValue = buf.toString('latin1', valueStart, valueEnd);
        const hash = lookups.hashHeader;
        if (hash !== undefined && head.hashValue === undefined && hash.length === length && equalsLower(buf, lineStart, hash)) head.hashValue = buf.toString('latin1', valueStart, valueEnd);
        break;
      }
      default:
        // keep-alive, proxy-connection, te, trailer, x-forwarded-proto, x-forwarded-host:
        // hop-by-hop or the balancer's own to set.
        id |= DROP;
    }
    const at = count * 4;
    lineSpans[at] = lineStart;
    lineSpans[at + 1] = lineEnd;
    lineSpans[at + 2] = valueStart;
    lineSpans[at + 3] = valueEnd;
    lineIds[count] = id;
    count++;
  }
  lineCount = count;

  if (head.chunked && head.contentLength !== -1) return bad('both Content-Length and Transfer-Encoding');
  if (head.hostStart === -1 && !head.http10) return bad('missing Host header');
  if (head.http10 && head.chunked) return bad('chunked body in an HTTP/1.0 request');
  if (head.method === 'CONNECT') return { status: 501, message: 'CONNECT is not supported' };
  head.keepAlive = head.http10 ? (connection & CONN_KEEP_ALIVE) !== 0 : (connection & CONN_CLOSE) === 0;
  head.upgrade = upgradeAllowed && hasUpgrade && (connection & CONN_UPGRADE) !== 0 && !head.http10;
  if (head.upgrade) {
    // The upgrade must reach the server: its Connection and Upgrade headers go along.
    for (let n = 0; n < count; n++) if ((lineIds[n] & 0x7f) === H_CONNECTION || (lineIds[n] & 0x7f) === H_UPGRADE) lineIds[n] &= 0x7f;
  }
  if (listed !== undefined) {
    // A Connection header naming the message's framing or its Host asks for them to be removed
    // from the forwarded head: the body would then reach the upstream as a second request.
    // Such a request is refused rather than forwarded with the option ignored, because the
    // client plainly disagrees with the upstream about where its message ends.
    if (listed.has('content-length') || listed.has('transfer-encoding') || listed.has('host')) return bad('Connection names a framing header');
    dropListed(buf, listed, count);
  }
  return head;
}

/**
 * Headers the client's Connection header named are hop-by-hop: not forwarded. Framing headers
 * and Host are never dropped here, whatever the list says (the parse refuses such a list).
 */
function dropListed(buf: Buffer, listed: Set<string>, count: number): void {
  for (let n = 0; n < count; n++) {
    const id = lineIds[n] & 0x7f;
    if (id === H_CONTENT_LENGTH || id === H_TRANSFER_ENCODING || id === H_HOST) continue;
    const at = n * 4;
    const start = lineSpans[at];
    let nameEnd = start;
    while (buf[nameEnd] !== 0x3a) nameEnd++;
    if (listed.has(buf.toString('latin1', start, nameEnd).toLowerCase())) lineIds[n] |= DROP;
  }
}

export function isHeadError(result: RequestHead | HeadError): result is HeadError {
  return !(result instanceof RequestHead);
}
