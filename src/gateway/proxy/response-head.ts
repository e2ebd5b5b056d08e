/**
 * Upstream response heads: a strict parse of the status line and the headers that frame the
 * body or end the connection, and the head passed on to the client, assembled from slices of
 * the upstream's with hop-by-hop headers removed.
 */
import {
  CONN_CLOSE,
  CONN_KEEP_ALIVE,
  CONN_OTHER,
  CR,
  H_CONNECTION,
  H_CONTENT_LENGTH,
  H_KEEP_ALIVE,
  H_PROXY_CONNECTION,
  H_TE,
  H_TRAILER,
  H_TRANSFER_ENCODING,
  H_UPGRADE,
  LF,
  connectionFlags,
  connectionListed,
  endsWithChunked,
  headerId,
  parseLength,
  tokenChar,
  valueChar,
} from './http-syntax.ts';

const MAX_LINES = 1000;
const spans = new Int32Array(MAX_LINES * 3);
const ids = new Uint8Array(MAX_LINES);
const DROP = 0x80;
let count = 0;

export class ResponseHead {
  readonly buf: Buffer;
  /** Index just past the blank line. */
  readonly end: number;
  status = 0;
  http10 = false;
  /** -1 without a Content-Length. */
  contentLength = -1;
  chunked = false;
  /** The upstream closes the connection after this response. */
  close = false;
  /** Index of the space before the status code. */
  statusStart = 0;
  statusLineEnd = 0;

  constructor(buf: Buffer, end: number) {
    this.buf = buf;
    this.end = end;
  }
}

const HTTP1 = Buffer.from('HTTP/1.', 'latin1');

/** Parses the response head in buf[0, end); a string says what is wrong with it. */
export function parseResponseHead(buf: Buffer, end: number): ResponseHead | string {
  if (!buf.subarray(0, 7).equals(HTTP1) || (buf[7] !== 0x31 && buf[7] !== 0x30) || buf[8] !== 0x20) return 'malformed status line';
  const d0 = buf[9] - 0x30;
  const d1 = buf[10] - 0x30;
  const d2 = buf[11] - 0x30;
  if (d0 < 1 || d0 > 5 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) return 'malformed status code';
  const head = new ResponseHead(buf, end);
  head.http10 = buf[7] === 0x30;
  head.status = d0 * 100 + d1 * 10 + d2;
  head.statusStart = 8;
  let i = 12;
  if (buf[i] === 0x20) {
    i++;
    while (valueChar[buf[i]] === 1) i++;
  }
  if (buf[i] !== CR || buf[i + 1] !== LF) return 'malformed status line';
  head.statusLineEnd = i;
  i += 2;

  let connection = 0;
  let transferEncoding = false;
  let listed: Set<string> | undefined;
  let n = 0;
  const headersEnd = end - 2;
  while (i < headersEnd) {
    if (n === MAX_LINES) return 'too many header fields';
    const lineStart = i;
    while (tokenChar[buf[i]] === 1) i++;
    const nameEnd = i;
    if (nameEnd === lineStart || buf[i] !== 0x3a) return 'malformed header field name';
    i++;
    while (buf[i] === 0x20 || buf[i] === 9) i++;
    const valueStart = i;
    while (valueChar[buf[i]] === 1) i++;
    if (buf[i] !== CR || buf[i + 1] !== LF) return 'malformed header field value';
    let valueEnd = i;
    while (valueEnd > valueStart && (buf[valueEnd - 1] === 0x20 || buf[valueEnd - 1] === 9)) valueEnd--;
    i += 2;
    let id = headerId(buf, lineStart, nameEnd);
    switch (id) {
      case H_CONTENT_LENGTH: {
        const length = parseLength(buf, valueStart, valueEnd);
        if (length < 0 || (head.contentLength !== -1 && head.contentLength !== length)) return 'invalid Content-Length';
        head.contentLength = length;
        break;
      }
      case H_TRANSFER_ENCODING:
        transferEncoding = true;
        head.chunked = endsWithChunked(buf, valueStart, valueEnd);
        break;
      case H_CONNECTION: {
        const flags = connectionFlags(buf, valueStart, valueEnd);
        connection |= flags;
        if ((flags & CONN_OTHER) !== 0) connectionListed(buf.toString('latin1', valueStart, valueEnd), (listed ??= new Set()));
        id |= DROP;
        break;
      }
      case H_KEEP_ALIVE:
      case H_PROXY_CONNECTION:
      case H_TE:
      case H_TRAILER:
      case H_UPGRADE:
        id |= DROP;
        break;
    }
    spans[n * 3] = lineStart;
    spans[n * 3 + 1] = i;
    spans[n * 3 + 2] = nameEnd;
    ids[n] = id;
    n++;
  }
  count = n;
  if (transferEncoding) {
    // Transfer-Encoding overrides Content-Length (RFC 9112 6.3); a coding other than chunked
    // last means the body runs until the connection closes.
    if (head.contentLength !== -1) for (let k = 0; k < n; k++) if ((ids[k] & 0x7f) === H_CONTENT_LENGTH) ids[k] |= DROP;
    head.contentLength = -1;
    if (!head.chunked) connection |= CONN_CLOSE;
  }
  head.close = head.http10 ? (connection & CONN_KEEP_ALIVE) === 0 : (connection & CONN_CLOSE) !== 0;
  if (listed !== undefined) {
    for (let k = 0; k < n; k++) if (listed.has(buf.toString('latin1', spans[k * 3], spans[k * 3 + 2]).toLowerCase())) ids[k] |= DROP;
  }
  return head;
}

export const KEEP = 0;
export const CLOSE = 1;
export const KEEP_ALIVE = 2;
const connectionLines = ['', 'connection: close\r\n', 'connection: keep-alive\r\n'];
const HTTP11 = Buffer.from('HTTP/1.1', 'latin1');
const noExtra = Buffer.alloc(0);
/** The length of the head the last clientResponseHead call wrote (saves an object per response). */
export let headLength = 0;
const CHUNKED_LINE = Buffer.from('transfer-encoding: chunked\r\n', 'latin1');

/**
 * The head for the client of the response the last parseResponseHead read: status line as
 * HTTP/1.1, kept headers, `extra` (already encoded header lines), the connection header
 * `persistence` asks for, and Transfer-Encoding adjusted when the balancer re-frames the body
 * (`reframe` 1: adds chunked, -1: removes it). `room` bytes are left free after the head for
 * the caller to put the first body bytes in, so head and body go out in one write; the
 * head's length is in `headLength`.
 */
export function clientResponseHead(head: ResponseHead, extra: Buffer, persistence: number, reframe: number, room: number): Buffer {
  const src = head.buf;
  const out = Buffer.allocUnsafe(head.end + extra.length + 64 + room);
  let at = HTTP11.copy(out, 0);
  at += src.copy(out, at, head.statusStart, head.statusLineEnd + 2);
  for (let k = 0; k < count; k++) {
    const id = ids[k];
    if ((id & DROP) !== 0 || (reframe === -1 && id === H_TRANSFER_ENCODING)) continue;
    at += src.copy(out, at, spans[k * 3], spans[k * 3 + 1]);
  }
  at += extra.copy(out, at);
  if (persistence !== KEEP) at += out.write(connectionLines[persistence], at, 'latin1');
  if (reframe === 1) at += CHUNKED_LINE.copy(out, at);
  out[at++] = 13;
  out[at++] = 10;
  headLength = at;
  return out;
}

/** A 1xx interim response, passed on as the upstream sent it minus hop-by-hop headers. */
export function interimHead(head: ResponseHead): Buffer {
  return clientResponseHead(head, noExtra, KEEP, 0, 0).subarray(0, headLength);
}
