/**
 * One client connection of a listener: reads request heads off the socket, runs one exchange
 * at a time (pipelined requests wait, in order, in the read buffer), feeds request body bytes
 * to the exchange as the upstream can take them, and keeps the connection's clocks for the
 * listener's slowloris, request and idle timeouts.
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { accessLogLine } from './access-log-line.ts';
import { admissionRefusal } from './admission.ts';
import type { ClientSide } from './client-side.ts';
import type { LimitsConfig } from './config-schema.ts';
import { clientOrigin, normalizeAddress, type ClientOrigin } from './forward-headers.ts';
import type { ListenerContext } from './listener-context.ts';
import { ProxyError, proxyErrorResponse, rawErrorResponse } from './proxy-errors.ts';
import { ProxyExchange } from './proxy-exchange.ts';
import { isHeadError, parseRequestHead, type RequestHead } from './request-head.ts';
import { UpgradeTunnel } from './upgrade-proxy.ts';

/** What a connection needs from its listener; the context is replaced on reload. */
export interface ConnectionHost {
  context: ListenerContext;
  limits: LimitsConfig;
  /** The listener shuts down: connections close after their current exchange. */
  closing: boolean;
  /** A clock the listener's sweep advances, read where a millisecond's precision is not needed. */
  nowMs: number;
  readonly connections: Set<ClientConnection>;
}

const connectionKey = Symbol('shoal.lb.client');
type TaggedSocket = Socket & { [connectionKey]?: ClientConnection };

const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');

/**
 * How long a closing connection stays once its last answer has left: time for the client to
 * read the answer before the socket goes (closing a socket with unread input resets it, and a
 * reset can throw away the answer on the client's side). Bytes that arrive meanwhile are read
 * and discarded, never kept.
 */
export const LINGER_MS = 1000;
/** Bytes read and dropped from a closing connection before its reading stops. */
const DISCARD_LIMIT = 64 * 1024;

function onData(this: TaggedSocket, chunk: Buffer): void {
  this[connectionKey]!.data(chunk);
}

function onEnd(this: TaggedSocket): void {
  this[connectionKey]!.clientEnded();
}

function onClose(this: TaggedSocket): void {
  this[connectionKey]!.closed();
}

function onDrain(this: TaggedSocket): void {
  const connection = this[connectionKey]!;
  connection.exchange?.clientDrained();
  connection.tunnel?.clientDrained();
}

function ignore(): void {
  // A socket error is followed by 'close', which does the cleanup.
}

export class ClientConnection implements ClientSide {
  readonly socket: Socket;
  readonly host: ConnectionHost;
  readonly origin: ClientOrigin;
  buffer: Buffer | undefined = undefined;
  exchange: ProxyExchange | undefined = undefined;
  tunnel: UpgradeTunnel | undefined = undefined;
  /** Where to resume looking for the end of a head that arrives in pieces. */
  #scanFrom = 0;
  #pumping = false;
  #ending = false;
  /** The client sent its last byte: close once the exchange in flight is done. */
  #clientEnded = false;
  /** When the connection started closing, and when its output was last seen moving or flushed. */
  #endingSinceMs = 0;
  #lingerFromMs = 0;
  #lingerPending = -1;
  #discarded = 0;
  /** When the head being read started (0: not reading one). */
  headStartMs: number;
  requestStartMs = 0;
  idleSinceMs = 0;

  constructor(socket: Socket, host: ConnectionHost) {
    this.socket = socket;
    this.host = host;
    this.origin = clientOrigin(normalizeAddress(socket.remoteAddress), host.context.proto);
    this.headStartMs = host.nowMs;
    (socket as TaggedSocket)[connectionKey] = this;
    socket.setNoDelay(true);
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('close', onClose);
    socket.on('drain', onDrain);
    socket.on('error', ignore);
    host.connections.add(this);
  }

  get destroyed(): boolean {
    return this.socket.destroyed;
  }

  get closing(): boolean {
    return this.host.closing || this.#clientEnded;
  }

  /** Between exchanges with nothing buffered: safe to close without losing anything. */
  get idle(): boolean {
    return this.exchange === undefined && this.tunnel === undefined && this.buffer === undefined;
  }

  data(chunk: Buffer): void {
    if (this.tunnel !== undefined) {
      this.tunnel.clientData(chunk);
      return;
    }
    // Refused or closing: nothing will read these bytes, so they are not kept. A client that
    // keeps sending is not read any further: reading on to discard would cost a fresh buffer
    // per read for as long as it sends, garbage faster than it is collected.
    if (this.#ending) {
      this.#discarded += chunk.length;
      if (this.#discarded > DISCARD_LIMIT) this.socket.pause();
      return;
    }
    if (this.exchange === undefined && this.headStartMs === 0) this.headStartMs = this.host.nowMs;
    this.buffer = this.buffer === undefined ? chunk : Buffer.concat([this.buffer, chunk]);
    this.pump();
  }

  /** Moves buffered bytes along: heads to new exchanges, body bytes to the exchange's upstream. */
  pump(): void {
    if (this.#pumping || this.#ending || this.socket.destroyed) return;
    this.#pumping = true;
    try {
      let buf = this.buffer;
      while (buf !== undefined && !this.#ending) {
        const exchange = this.exchange;
        if (exchange === undefined) {
          if (this.tunnel !== undefined || !this.#startRequest(buf)) break;
        } else {
          if (!exchange.canTakeBody) break;
          const stop = exchange.takeBody(buf, 0, buf.length);
          this.buffer = stop < buf.length ? buf.subarray(stop) : undefined;
        }
        buf = this.buffer;
      }
    } finally {
      this.#pumping = false;
    }
    if (this.#ending || this.socket.destroyed || this.tunnel !== undefined) return;
    // Bytes waiting behind an exchange (a pipelined request, a body the upstream cannot take
    // yet) stop the reading until they can move; a partial head needs more bytes.
    const exchange = this.exchange;
    const blocked = exchange !== undefined && (this.buffer !== undefined || exchange.upstreamBlocked);
    if (blocked) this.socket.pause();
    else if (this.socket.isPaused()) this.socket.resume();
  }

  /** Parses a head at the start of `buf` and starts its exchange; false when it is incomplete. */
  #startRequest(buf: Buffer): boolean {
    // Blank lines between messages are tolerated (RFC 9112 2.2).
    let skip = 0;
    while (skip < buf.length && (buf[skip] === 13 || buf[skip] === 10)) skip++;
    if (skip > 0) {
      buf = skip === buf.length ? Buffer.alloc(0) : buf.subarray(skip);
      this.buffer = buf.length === 0 ? undefined : buf;
      if (buf.length === 0) return false;
    }
    const limits = this.host.limits;
    const at = buf.indexOf(HEAD_END, this.#scanFrom);
    if (at === -1) {
      if (buf.length > limits.maxHeaderBytes) this.refuse(431, 'Request Header Fields Too Large', new ProxyError(431, 'HEADERS_TOO_LARGE', 'request headers are too large'));
      else this.#scanFrom = Math.max(0, buf.length - 3);
      return false;
    }
    const end = at + 4;
    if (end > limits.maxHeaderBytes) {
      this.refuse(431, 'Request Header Fields Too Large', new ProxyError(431, 'HEADERS_TOO_LARGE', 'request headers are too large'));
      return false;
    }
    const context = this.host.context;
    const head = parseRequestHead(buf, end, context.lookups);
    if (isHeadError(head)) {
      const error =
        head.status === 431
          ? new ProxyError(431, 'HEADERS_TOO_LARGE', head.message)
          : head.status === 501
            ? new ProxyError(501, 'NOT_IMPLEMENTED', `not implemented: ${head.message}`)
            : new ProxyError(400, 'BAD_REQUEST', `malformed request: ${head.message}`);
      this.refuse(head.status, head.status === 431 ? 'Request Header Fields Too Large' : head.status === 501 ? 'Not Implemented' : 'Bad Request', error);
      return false;
    }
    this.buffer = end < buf.length ? buf.subarray(end) : undefined;
    this.#scanFrom = 0;
    this.headStartMs = 0;
    const now = Date.now();
    this.requestStartMs = now;
    const refusal = admissionRefusal(head, context, this.origin.clientIp, now);
    if (refusal !== undefined) {
      this.#answerRefusal(head, context, refusal, now);
      return true;
    }
    if (head.upgrade) {
      const rest = this.buffer;
      this.buffer = undefined;
      this.tunnel = new UpgradeTunnel(this, head, context, rest, now);
      return true;
    }
    const exchange = new ProxyExchange(this, head, context, now);
    this.exchange = exchange;
    exchange.start(now);
    return true;
  }

  /**
   * Answers a request that admission refused. Without a body to skip, the connection stays
   * open for the next request; an upgrade's connection closes, as it would have after a tunnel.
   */
  #answerRefusal(head: RequestHead, context: ListenerContext, error: ProxyError, startMs: number): void {
    if (head.upgrade) {
      this.refuse(error.status, STATUS_CODES[error.status] ?? 'Error', error);
      return;
    }
    const close = this.closing || head.hasBody || error.status === 413 || !head.keepAlive;
    const response = proxyErrorResponse(error, context.responseHeaderBytes, close);
    this.write(response.bytes);
    const accessLog = context.accessLog;
    if (accessLog !== undefined) accessLog.info(accessLogLine(head, this.origin.clientIp, error.status, undefined, Date.now() - startMs, response.bodyLength, null, 0, undefined));
    this.exchangeDone(close);
  }

  write(data: Buffer): boolean {
    return this.socket.write(data);
  }

  pauseReading(): void {
    this.socket.pause();
  }

  resumeReading(): void {
    this.socket.resume();
  }

  /** The exchange is over; `close` when the connection must not carry another. */
  exchangeDone(close: boolean): void {
    this.exchange = undefined;
    if (close || this.closing) {
      this.end();
      return;
    }
    this.idleSinceMs = this.host.nowMs;
    if (this.buffer !== undefined) this.headStartMs = this.host.nowMs;
    this.pump();
  }

  /** Answers a request that never became an exchange (bad head, too slow) and closes. */
  refuse(_status: number, reason: string, error: ProxyError): void {
    if (this.#ending) return;
    if (this.socket.writable) this.socket.end(rawErrorResponse(error.status, reason, error));
    else this.socket.destroy();
    this.#startEnding();
  }

  /** Closes after what was written has been sent. */
  end(): void {
    if (this.#ending) return;
    this.socket.end();
    this.#startEnding();
  }

  /**
   * From here on nothing is parsed or kept: what the client still sends is read and dropped,
   * so a client's FIN is seen at once and a few stray bytes do not turn the close into a reset
   * (which can cost the client the answer). Past DISCARD_LIMIT bytes the reading stops (see
   * data()), and the rest stays in the kernel's buffers until the sweep destroys the socket
   * after the linger.
   */
  #startEnding(): void {
    this.#ending = true;
    this.buffer = undefined;
    this.#endingSinceMs = this.host.nowMs;
    if (this.tunnel === undefined && this.socket.isPaused()) this.socket.resume();
  }

  /**
   * A closing connection goes LINGER_MS after its output was flushed; while output is still
   * waiting for a client that reads nothing, it goes after the idle timeout without progress.
   */
  #checkLinger(now: number): void {
    const socket = this.socket;
    if (socket.destroyed) return;
    if (socket.writableFinished) {
      if (this.#lingerPending !== 0) {
        this.#lingerPending = 0;
        this.#lingerFromMs = now;
      } else if (now - this.#lingerFromMs >= LINGER_MS) {
        socket.destroy();
      }
      return;
    }
    const pending = socket.writableLength;
    if (pending !== this.#lingerPending) {
      this.#lingerPending = pending;
      this.#lingerFromMs = Math.max(now, this.#endingSinceMs);
    } else if (now - this.#lingerFromMs > this.host.limits.idleTimeout) {
      socket.destroy();
    }
  }

  destroy(): void {
    this.socket.destroy();
  }

  clientEnded(): void {
    this.#clientEnded = true;
    if (this.tunnel !== undefined) {
      this.tunnel.clientEnded();
      return;
    }
    // Nothing in flight: nothing more will come, so close our side too.
    if (this.exchange === undefined) this.end();
  }

  closed(): void {
    this.host.connections.delete(this);
    this.buffer = undefined;
    this.exchange?.clientGone();
    this.exchange = undefined;
    this.tunnel?.clientClosed();
  }

  /** The listener's periodic check of this connection's timeouts. */
  checkTimeouts(now: number): void {
    if (this.tunnel !== undefined) return;
    if (this.#ending) {
      this.#checkLinger(now);
      return;
    }
    const limits = this.host.limits;
    const exchange = this.exchange;
    if (exchange === undefined) {
      if (this.headStartMs !== 0) {
        if (now - this.headStartMs > limits.headersTimeout) this.refuse(408, 'Request Timeout', new ProxyError(408, 'REQUEST_TIMEOUT', 'the request was not received in time'));
      } else if (now - this.idleSinceMs > limits.idleTimeout) {
        this.destroy();
      }
      return;
    }
    if (!exchange.requestDone && limits.requestTimeout > 0 && now - this.requestStartMs > limits.requestTimeout) {
      exchange.fail(new ProxyError(408, 'REQUEST_TIMEOUT', 'the request was not received in time'));
      return;
    }
    exchange.checkStall(now);
  }
}
