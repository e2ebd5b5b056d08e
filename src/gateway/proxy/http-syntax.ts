/**
 * Byte-level HTTP/1.1 syntax shared by the request and response head parsers: character
 * classes as lookup tables, and the header names the balancer acts on, recognised without
 * turning each name into a string.
 */

const CR = 13;
const LF = 10;
export { CR, LF };

/** RFC 9110 token characters: methods and header names. */
export const tokenChar = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") tokenChar[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) tokenChar[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) tokenChar[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) tokenChar[c] = 1;

/** Field value characters: visible ASCII, space, tab and obs-text; never CR, LF, NUL or DEL. */
export const valueChar = new Uint8Array(256);
valueChar[9] = 1;
for (let c = 0x20; c <= 0xff; c++) if (c !== 0x7f) valueChar[c] = 1;

/**
 * Request-target characters: visible ASCII only. No spaces or controls, and no 8-bit bytes:
 * a URI has none (RFC 3986 percent-encodes them), and servers disagree on what they mean.
 */
export const targetChar = new Uint8Array(256);
for (let c = 0x21; c <= 0x7e; c++) targetChar[c] = 1;

/** A Host longer than any DNS name (253) with a port: refused, and never copied upstream. */
export const MAX_HOST_BYTES = 255;

/** reg-name and IPv4 characters of a Host (RFC 3986 unreserved, sub-delims and "%"). */
const regNameChar = new Uint8Array(256);
for (const c of "-._~!$&'()*+,;=%") regNameChar[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) regNameChar[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) regNameChar[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) regNameChar[c] = 1;
/** Characters inside an IP-literal's brackets: IPv6 (hex, ":", ".") and IPvFuture. */
const ipLiteralChar = new Uint8Array(regNameChar);
ipLiteralChar[0x3a] = 1;

/**
 * Whether buf[start, end) is a Host value: `uri-host [":" port]` (RFC 9110 7.2), empty allowed
 * (RFC 9112 3.2). Spaces, quotes, backslashes, "@" and "/" are refused, so a Host can neither
 * split a forwarded header nor point the upstream somewhere else.
 */
export function validHost(buf: Buffer, start: number, end: number): boolean {
  if (end - start > MAX_HOST_BYTES) return false;
  let i = start;
  if (buf[i] === 0x5b && i < end) {
    i++;
    while (i < end && ipLiteralChar[buf[i]] === 1) i++;
    if (i === start + 1 || i === end || buf[i] !== 0x5d) return false;
    i++;
  } else {
    while (i < end && regNameChar[buf[i]] === 1) i++;
  }
  if (i === end) return true;
  if (buf[i] !== 0x3a) return false;
  for (i++; i < end; i++) if (buf[i] < 0x30 || buf[i] > 0x39) return false;
  return true;
}

export const H_OTHER = 0;
export const H_HOST = 1;
export const H_CONNECTION = 2;
export const H_UPGRADE = 3;
export const H_KEEP_ALIVE = 4;
export const H_PROXY_CONNECTION = 5;
export const H_TE = 6;
export const H_TRAILER = 7;
export const H_X_FORWARDED_PROTO = 8;
export const H_X_FORWARDED_HOST = 9;
export const H_X_FORWARDED_FOR = 10;
export const H_FORWARDED = 11;
export const H_TRACEPARENT = 12;
export const H_CONTENT_LENGTH = 13;
export const H_TRANSFER_ENCODING = 14;
export const H_COOKIE = 15;

const known: Array<[string, number]> = [
  ['host', H_HOST],
  ['connection', H_CONNECTION],
  ['upgrade', H_UPGRADE],
  ['keep-alive', H_KEEP_ALIVE],
  ['proxy-connection', H_PROXY_CONNECTION],
  ['te', H_TE],
  ['trailer', H_TRAILER],
  ['x-forwarded-proto', H_X_FORWARDED_PROTO],
  ['x-forwarded-host', H_X_FORWARDED_HOST],
  ['x-forwarded-for', H_X_FORWARDED_FOR],
  ['forwarded', H_FORWARDED],
  ['traceparent', H_TRACEPARENT],
  ['content-length', H_CONTENT_LENGTH],
  ['transfer-encoding', H_TRANSFER_ENCODING],
  ['cookie', H_COOKIE],
];

/** Known names by length, so a lookup compares against at most two candidates. */
const byLength: Array<Array<[Buffer, number]>> = [];
for (const [name, id] of known) (byLength[name.length] ??= []).push([Buffer.from(name, 'latin1'), id]);

/**
 * Whether buf[start, start + lower.length) equals `lower` ignoring ASCII case. Only valid on
 * token characters: OR-ing 0x20 maps exactly the upper-case letters onto the lower-case ones.
 */
export function equalsLower(buf: Buffer, start: number, lower: Buffer): boolean {
  for (let i = 0; i < lower.length; i++) if ((buf[start + i] | 0x20) !== lower[i]) return false;
  return true;
}

/** The id of a header name the balancer acts on, H_OTHER for any other name. */
export function headerId(buf: Buffer, start: number, end: number): number {
  const candidates = byLength[end - start];
  if (candidates === undefined) return H_OTHER;
  for (let i = 0; i < candidates.length; i++) if (equalsLower(buf, start, candidates[i][0])) return candidates[i][1];
  return H_OTHER;
}

/** A decimal Content-Length value, or -1 when it is not one (empty, signs, too long). */
export function parseLength(buf: Buffer, start: number, end: number): number {
  if (end === start || end - start > 15) return -1;
  let value = 0;
  for (let i = start; i < end; i++) {
    const d = buf[i] - 0x30;
    if (d < 0 || d > 9) return -1;
    value = value * 10 + d;
  }
  return value;
}

/** Whether the value equals `lower` (already lower-case), ignoring case. */
export function valueIs(buf: Buffer, start: number, end: number, lower: string): boolean {
  if (end - start !== lower.length) return false;
  for (let i = 0; i < lower.length; i++) {
    const c = buf[start + i];
    if ((c >= 0x41 && c <= 0x5a ? c | 0x20 : c) !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/** Flags from a Connection header's comma-separated options. */
export const CONN_CLOSE = 1;
export const CONN_KEEP_ALIVE = 2;
export const CONN_UPGRADE = 4;
/** Other names are listed: those headers are hop-by-hop too and must be removed. */
export const CONN_OTHER = 8;

export function connectionFlags(buf: Buffer, start: number, end: number): number {
  let flags = 0;
  let i = start;
  while (i < end) {
    while (i < end && (buf[i] === 0x2c || buf[i] === 0x20 || buf[i] === 9)) i++;
    const tokenStart = i;
    while (i < end && buf[i] !== 0x2c) i++;
    let tokenEnd = i;
    while (tokenEnd > tokenStart && (buf[tokenEnd - 1] === 0x20 || buf[tokenEnd - 1] === 9)) tokenEnd--;
    if (tokenEnd === tokenStart) continue;
    if (valueIs(buf, tokenStart, tokenEnd, 'close')) flags |= CONN_CLOSE;
    else if (valueIs(buf, tokenStart, tokenEnd, 'keep-alive')) flags |= CONN_KEEP_ALIVE;
    else if (valueIs(buf, tokenStart, tokenEnd, 'upgrade')) flags |= CONN_UPGRADE;
    else flags |= CONN_OTHER;
  }
  return flags;
}

/** The names a Connection header lists beyond close/keep-alive/upgrade, lower-cased. */
export function connectionListed(value: string, into: Set<string>): void {
  for (const token of value.split(',')) {
    const name = token.trim().toLowerCase();
    if (name !== '' && name !== 'close' && name !== 'keep-alive' && name !== 'upgrade') into.add(name);
  }
}

/** A request's Transfer-Encoding is exactly `chunked`, the one coding the balancer passes on. */
export const TE_CHUNKED = 0;
/** A list that breaks RFC 9112 6.1 (chunked twice, not last, empty or non-token elements): 400. */
export const TE_MALFORMED = 1;
/** A well-formed list of codings other than a lone chunked (gzip, chunked; gzip): 501. */
export const TE_UNSUPPORTED = 2;

/**
 * Classifies a request's Transfer-Encoding value. Only a lone `chunked` is forwarded: a coding
 * before it would have to be understood the same way by every server behind the balancer,
 * and `chunked, chunked` is read as one chunked layer by some servers and two by others.
 */
export function requestTransferCoding(buf: Buffer, start: number, end: number): number {
  if (valueIs(buf, start, end, 'chunked')) return TE_CHUNKED;
  let i = start;
  let chunkedSeen = false;
  for (;;) {
    while (i < end && (buf[i] === 0x20 || buf[i] === 9)) i++;
    const tokenStart = i;
    while (i < end && tokenChar[buf[i]] === 1) i++;
    if (i === tokenStart) return TE_MALFORMED;
    const isChunked = valueIs(buf, tokenStart, i, 'chunked');
    if (chunkedSeen) return TE_MALFORMED;
    chunkedSeen = isChunked;
    // Parameters (";q=1") are allowed on codings other than chunked; they are not interpreted.
    while (i < end && buf[i] !== 0x2c) {
      if (isChunked && buf[i] !== 0x20 && buf[i] !== 9) return TE_MALFORMED;
      i++;
    }
    if (i === end) return TE_UNSUPPORTED;
    i++;
  }
}

/** Whether a Transfer-Encoding value ends in chunked, the only coding that frames a message. */
export function endsWithChunked(buf: Buffer, start: number, end: number): boolean {
  let e = end;
  while (e > start && (buf[e - 1] === 0x20 || buf[e - 1] === 9)) e--;
  if (e - start < 7) return false;
  const s = e - 7;
  if (!valueIs(buf, s, e, 'chunked')) return false;
  return s === start || buf[s - 1] === 0x2c || buf[s - 1] === 0x20 || buf[s - 1] === 9;
}
