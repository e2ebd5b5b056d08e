/**
 * The response half of an exchange: reads the upstream's response head (passing 1xx interim
 * responses on), writes the client's head, and relays the body as it arrives, following its
 * framing (Content-Length, chunked, or until the server closes) to know when it is complete.
 * A body that ends with the server's close is re-framed as chunked for an HTTP/1.1 client, so
 * the client's connection can stay open; an HTTP/1.0 client gets chunked bodies decoded.
 */
import { ChunkedFramer, FRAMING_ERROR, NEED_MORE } from './chunked-framer.ts';
import type { RequestHead } from './request-head.ts';
import { CLOSE, KEEP, KEEP_ALIVE, clientResponseHead, headLength, interimHead, parseResponseHead, type ResponseHead } from './response-head.ts';

const AWAIT_HEAD = 0;
const NO_BODY = 1;
const LENGTH = 2;
const CHUNKED = 3;
const UNTIL_CLOSE = 4;

/** Response heads beyond this are refused as a broken upstream. */
const MAX_RESPONSE_HEAD = 64 * 1024;
/** A first body part up to this size is copied behind the head, so both go out in one write. */
const COALESCE_LIMIT = 16 * 1024;
const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');
const LAST_CHUNK = Buffer.from('0\r\n\r\n', 'latin1');
const CRLF = Buffer.from('\r\n', 'latin1');

/**
 * What the relay needs from the exchange it answers for. Declared here, by the relay, so the
 * exchange depends on the relay and not the other way round.
 */
export interface RelayOwner {
  readonly head: RequestHead;
  /** The client connection closes after this exchange, whatever the response says. */
  readonly clientClosing: boolean;
  /** Header lines added to every response, already encoded. */
  readonly responseHeaderBytes: Buffer;
  /** Writes response bytes to the client, holding the upstream back while the client is slower. */
  sendToClient(data: Buffer): void;
  /** Passes an interim (1xx) response head on to the client. */
  interim(head: Buffer): void;
  /** The final response head arrived with this status: the try succeeded. */
  responded(status: number): void;
  /** The upstream's answer was unusable before a response started. */
  upstreamFailed(kind: 'connect' | 'reset', reason: string): void;
  /** The upstream's framing broke mid-response: the client's response cannot complete. */
  responseBroken(): void;
  /** The response went out whole; `reusable` when the upstream connection is clean. */
  completed(reusable: boolean, closeClient: boolean): void;
}

export class ResponseRelay {
  readonly #exchange: RelayOwner;
  #pending: Buffer | undefined = undefined;
  #mode = AWAIT_HEAD;
  #remaining = 0;
  #framer: ChunkedFramer | undefined = undefined;
  /** 1: chunk-encode a close-delimited body; -1: decode a chunked one. */
  #reframe = 0;
  #reusable = true;
  #closeClient = false;
  #bytes = 0;

  constructor(exchange: RelayOwner) {
    this.#exchange = exchange;
  }

  /** Response body bytes relayed so far (data bytes, for a chunked body). */
  get bytes(): number {
    return this.#bytes;
  }

  data(chunk: Buffer): void {
    if (this.#mode === AWAIT_HEAD) this.#head(chunk);
    else this.#body(chunk, 0);
  }

  /** The upstream closed its side: that ends a body without a length. */
  upstreamEnded(): void {
    if (this.#mode !== UNTIL_CLOSE) return;
    if (this.#reframe === 1) this.#write(LAST_CHUNK);
    this.#finish(false);
  }

  #head(chunk: Buffer): void {
    const exchange = this.#exchange;
    let buf = chunk;
    if (this.#pending !== undefined) {
      buf = Buffer.concat([this.#pending, chunk]);
      this.#pending = undefined;
    }
    for (;;) {
      const at = buf.indexOf(HEAD_END);
      if (at === -1) {
        if (buf.length > MAX_RESPONSE_HEAD) exchange.upstreamFailed('reset', 'response head too large');
        else this.#pending = buf;
        return;
      }
      const end = at + 4;
      // The limit holds however the head arrived: in pieces, or whole in one read.
      if (end > MAX_RESPONSE_HEAD) {
        exchange.upstreamFailed('reset', 'response head too large');
        return;
      }
      const head = parseResponseHead(buf, end);
      if (typeof head === 'string') {
        exchange.upstreamFailed('reset', `invalid response: ${head}`);
        return;
      }
      if (head.status >= 200) {
        this.#start(head, buf, end);
        return;
      }
      if (head.status === 101) {
        exchange.upstreamFailed('reset', 'unexpected 101 Switching Protocols');
        return;
      }
      // 100 Continue, 103 Early Hints: for the client too, when it speaks HTTP/1.1.
      if (!exchange.head.http10) exchange.interim(interimHead(head));
      if (end === buf.length) return;
      buf = buf.subarray(end);
    }
  }

  #start(head: ResponseHead, buf: Buffer, end: number): void {
    const exchange = this.#exchange;
    const request = exchange.head;
    exchange.responded(head.status);
    const status = head.status;
    let mode: number;
    if (request.method === 'HEAD' || status === 204 || status === 304 || head.contentLength === 0) mode = NO_BODY;
    else if (head.chunked) mode = CHUNKED;
    else if (head.contentLength > 0) mode = LENGTH;
    else mode = UNTIL_CLOSE;
    this.#mode = mode;
    this.#reusable = !head.close && mode !== UNTIL_CLOSE;
    let closeClient = !request.keepAlive || exchange.clientClosing;
    if (mode === LENGTH) this.#remaining = head.contentLength;
    else if (mode === CHUNKED) this.#framer = new ChunkedFramer();
    if (mode === UNTIL_CLOSE) {
      if (request.http10) closeClient = true;
      else this.#reframe = 1;
    } else if (mode === CHUNKED && request.http10) {
      this.#reframe = -1;
      closeClient = true;
    }
    this.#closeClient = closeClient;
    const persistence = closeClient ? CLOSE : request.http10 ? KEEP_ALIVE : KEEP;
    const extra = exchange.responseHeaderBytes;
    const available = buf.length - end;

    if (this.#reframe === 0 && available > 0 && available <= COALESCE_LIMIT && (mode === LENGTH || mode === CHUNKED)) {
      let stop: number;
      if (mode === LENGTH) {
        stop = end + Math.min(this.#remaining, available);
        this.#remaining -= stop - end;
        this.#bytes += stop - end;
      } else {
        const result = this.#framer!.feed(buf, end, buf.length);
        if (result === FRAMING_ERROR) return this.#broken();
        stop = result === NEED_MORE ? buf.length : result;
        this.#bytes = this.#framer!.dataBytes;
      }
      const out = clientResponseHead(head, extra, persistence, 0, stop - end);
      const length = headLength;
      buf.copy(out, length, end, stop);
      this.#write(out.subarray(0, length + stop - end));
      if (mode === LENGTH ? this.#remaining === 0 : this.#framer!.done) this.#finish(stop === buf.length);
      return;
    }
    const out = clientResponseHead(head, extra, persistence, this.#reframe, 0);
    this.#write(out.subarray(0, headLength));
    if (mode === NO_BODY) this.#finish(available === 0);
    else if (available > 0) this.#body(buf, end);
  }

  #body(buf: Buffer, start: number): void {
    const length = buf.length;
    switch (this.#mode) {
      case LENGTH: {
        const stop = Math.min(length, start + this.#remaining);
        this.#write(start === 0 && stop === length ? buf : buf.subarray(start, stop));
        this.#remaining -= stop - start;
        this.#bytes += stop - start;
        if (this.#remaining === 0) this.#finish(stop === length);
        return;
      }
      case CHUNKED: {
        const framer = this.#framer!;
        let result: number;
        if (this.#reframe === -1) {
          result = framer.feed(buf, start, length, (data, from, to) => this.#write(data.subarray(from, to)));
        } else {
          result = framer.feed(buf, start, length);
          if (result !== FRAMING_ERROR) {
            const stop = result === NEED_MORE ? length : result;
            this.#write(start === 0 && stop === length ? buf : buf.subarray(start, stop));
          }
        }
        if (result === FRAMING_ERROR) return this.#broken();
        this.#bytes = framer.dataBytes;
        if (result !== NEED_MORE) this.#finish(result === length);
        return;
      }
      case UNTIL_CLOSE: {
        const data = start === 0 ? buf : buf.subarray(start);
        this.#bytes += data.length;
        if (this.#reframe === 1) {
          this.#write(Buffer.from(`${data.length.toString(16)}\r\n`, 'latin1'));
          this.#write(data);
          this.#write(CRLF);
        } else {
          this.#write(data);
        }
        return;
      }
      default:
        // Bytes after a complete response: the connection is not clean, drop it.
        this.#reusable = false;
    }
  }

  #write(data: Buffer): void {
    this.#exchange.sendToClient(data);
  }

  /** Malformed framing from the upstream mid-response. */
  #broken(): void {
    this.#exchange.responseBroken();
  }

  #finish(clean: boolean): void {
    this.#mode = NO_BODY;
    this.#exchange.completed(this.#reusable && clean, this.#closeClient);
  }
}
