/**
 * Forwarding one request to an upstream server and its response back, at the byte level:
 * the rewritten head and the body go to a pooled keep-alive connection, and the response's
 * framing is followed to know when that connection is free again. Retries go to a different
 * server, within per-try and total timeouts, while nothing of the answer has reached the
 * client; health and balancing get their bookkeeping.
 *
 * This is the hot path. Socket events reach an exchange through handlers installed once per
 * connection (see ClientConnection and ConnectionPool), the try timer gets the exchange as an
 * argument, and bodies are relayed chunk by chunk, never buffered whole.
 */
import type { Backend } from './backend-pool.ts';
import { ChunkedFramer, FRAMING_ERROR, NEED_MORE } from './chunked-framer.ts';
import type { ClientConnection } from './client-connection.ts';
import { traceIdOf, upstreamHead, type TraceSource } from './forward-headers.ts';
import type { ListenerContext } from './listener-context.ts';
import { ProxyError, proxyErrorResponse } from './proxy-errors.ts';
import type { RequestHead } from './request-head.ts';
import { ResponseRelay } from './response-relay.ts';
import type { Upstream } from './upstream.ts';
import type { UpstreamConnection, UpstreamOwner } from './upstream-pool.ts';

/** Methods a retry cannot harm: repeating them has the effect of sending them once. */
const idempotentMethods = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);
const connectErrors = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ENOTFOUND']);
/** Request body bytes kept for a retry; a longer body is not retried once it has flowed. */
const REPLAY_LIMIT = 64 * 1024;

const WAITING = 0;
const STREAMING = 1;
const FINISHED = 2;

function uncork(socket: { uncork(): void }): void {
  socket.uncork();
}

function onTryTimeout(exchange: ProxyExchange): void {
  exchange.tryTimedOut();
}

export class ProxyExchange implements UpstreamOwner, TraceSource {
  readonly conn: ClientConnection;
  readonly head: RequestHead;
  readonly listener: ListenerContext;
  readonly backend: Backend;
  readonly startMs: number;
  readonly deadlineMs: number;
  traceBuf: Buffer | undefined = undefined;
  traceAt = 0;
  forwardHead: Buffer | undefined = undefined;
  hashKey: string | undefined = undefined;
  /** Request body bytes still to come with a Content-Length. */
  bodyRemaining = 0;
  framer: ChunkedFramer | undefined = undefined;
  requestDone = true;
  /** Body bytes sent upstream so far, while few enough to send again on a retry. */
  replay: Buffer[] | undefined = undefined;
  replayBytes = 0;
  tries = 0;
  tried: Set<string> | undefined = undefined;
  upstream: Upstream | undefined = undefined;
  upstreamId: string | undefined = undefined;
  connection: UpstreamConnection | undefined = undefined;
  /** The upstream's write buffer is full: request body waits for its drain. */
  upstreamBlocked = false;
  tryStartMs = 0;
  timer: NodeJS.Timeout | undefined = undefined;
  phase = WAITING;
  relay: ResponseRelay | undefined = undefined;
  /** A byte of an answer (interim or final) went to the client: no retry any more. */
  answered = false;
  status = 0;
  bytes = 0;
  /** While a response streams: when bytes last moved (from the upstream, or out to the client). */
  progressMs = 0;
  /** Why the exchange was cut short after its answer started, for the access log. */
  cutShort: string | undefined = undefined;

  constructor(conn: ClientConnection, head: RequestHead, listener: ListenerContext, now: number) {
    this.conn = conn;
    this.head = head;
    this.listener = listener;
    this.backend = listener.backend;
    this.startMs = now;
    this.deadlineMs = now + this.backend.config.timeouts.total;
  }

  /** Runs right after the head was parsed (the forwarded head is built from the parse). */
  start(now: number): void {
    const listener = this.listener;
    const head = this.head;
    const clientIp = this.conn.origin.clientIp;
    const limiter = listener.rateLimiter;
    if (head.chunked) {
      this.framer = new ChunkedFramer();
      this.requestDone = false;
    } else if (head.contentLength > 0) {
      this.bodyRemaining = head.contentLength;
      this.requestDone = false;
    }
    if (this.head.hasBody) this.replay = [];
    if (limiter !== undefined) {
      const waitMs = limiter.take(limiter.keyOf(head.keyValue, clientIp), now);
      if (waitMs > 0) {
        const seconds = Math.max(1, Math.ceil(waitMs / 1000));
        listener.metrics.refused(listener.name, 429);
        this.fail(new ProxyError(429, 'RATE_LIMITED', 'too many requests; slow down', { retryAfterSeconds: seconds }, { 'retry-after': String(seconds) }));
        return;
      }
    }
    const maxBody = listener.maxBodyBytes;
    if (maxBody > 0 && head.contentLength > maxBody) {
      listener.metrics.refused(listener.name, 413);
      this.fail(new ProxyError(413, 'PAYLOAD_TOO_LARGE', `request body of ${head.contentLength} bytes exceeds the limit of ${maxBody}`, { limit: maxBody }));
      return;
    }
    const backend = this.backend;
    if (backend.hashes) this.hashKey = backend.hashKey(head, clientIp);
    backend.retryBudget.recordRequest(now);
    const upstream = backend.pick(this.hashKey, undefined, now);
    if (upstream === undefined) {
      listener.metrics.refused(listener.name, 503);
      this.fail(noUpstreamError(backend));
      return;
    }
    this.forwardHead = upstreamHead(head, this.conn.origin, upstream.hostHeader, this);
    this.#send(upstream, now);
  }

  #send(upstream: Upstream, now: number): void {
    const backend = this.backend;
    this.tries++;
    this.upstream = upstream;
    this.upstreamId = upstream.id;
    upstream.begin();
    backend.strategy.onStart?.(upstream.id);
    this.tryStartMs = performance.now();
    this.timer = setTimeout(onTryTimeout, Math.max(1, Math.min(backend.config.timeouts.try, this.deadlineMs - now)), this);
    upstream.pool.acquire(this);
  }

  onUpstreamSocket(connection: UpstreamConnection): void {
    this.connection = connection;
    this.upstreamBlocked = false;
    const socket = connection.socket;
    const replay = this.replay;
    if (!this.requestDone || (replay !== undefined && replay.length > 0)) {
      // Head and the first body bytes leave in one write.
      socket.cork();
      process.nextTick(uncork, socket);
    }
    socket.write(this.forwardHead!);
    if (replay !== undefined) for (let i = 0; i < replay.length; i++) socket.write(replay[i]);
    // Body bytes the client connection holds can flow now.
    if (!this.requestDone) this.conn.pump();
  }

  /** Whether request body bytes can be taken now. */
  get canTakeBody(): boolean {
    return !this.requestDone && this.connection !== undefined && !this.upstreamBlocked && this.phase !== FINISHED;
  }

  /** Takes request body bytes from buf[start, end); returns where the body ended or `end`. */
  takeBody(buf: Buffer, start: number, end: number): number {
    let stop: number;
    const framer = this.framer;
    if (framer === undefined) {
      stop = Math.min(end, start + this.bodyRemaining);
      this.bodyRemaining -= stop - start;
      if (this.bodyRemaining === 0) this.requestDone = true;
    } else {
      const result = framer.feed(buf, start, end);
      if (result === FRAMING_ERROR) {
        this.#abortRequest(new ProxyError(400, 'BAD_REQUEST', 'malformed chunked request body'));
        return end;
      }
      stop = result === NEED_MORE ? end : result;
      if (result !== NEED_MORE) this.requestDone = true;
      const limit = this.listener.maxBodyBytes;
      if (limit > 0 && framer.dataBytes > limit) {
        this.listener.metrics.refused(this.listener.name, 413);
        this.#abortRequest(new ProxyError(413, 'PAYLOAD_TOO_LARGE', `request body exceeds the limit of ${limit} bytes`, { limit }));
        return end;
      }
    }
    if (stop === start) return stop;
    const chunk = start === 0 && stop === buf.length ? buf : buf.subarray(start, stop);
    const replay = this.replay;
    if (replay !== undefined) {
      this.replayBytes += chunk.length;
      if (this.replayBytes <= REPLAY_LIMIT) replay.push(chunk);
      else this.replay = undefined;
    }
    if (!this.connection!.socket.write(chunk)) {
      this.upstreamBlocked = true;
      this.conn.pauseReading();
    }
    return stop;
  }

  /** The request body cannot go on: answer (when nothing was answered yet) and close. */
  #abortRequest(error: ProxyError): void {
    if (this.answered) this.conn.destroy();
    else this.fail(error);
  }

  onUpstreamDrain(): void {
    if (!this.upstreamBlocked) return;
    this.upstreamBlocked = false;
    this.conn.pump();
  }

  onUpstreamData(chunk: Buffer): void {
    if (this.phase === FINISHED) return;
    if (this.relay === undefined) this.relay = new ResponseRelay(this);
    this.relay.data(chunk);
    if (this.phase === STREAMING) this.progressMs = Date.now();
  }

  /**
   * Called by the listener's timeout sweep: when a streaming answer moved no bytes either way
   * for timeouts.idle, the upstream stalled (or the client stopped reading, while the upstream
   * waits paused), and both connections close, as nothing more of it can reach the client.
   */
  checkStall(now: number): void {
    if (this.phase !== STREAMING) return;
    const idleMs = this.backend.config.timeouts.idle;
    if (now - this.progressMs <= idleMs) return;
    const clientStalled = this.connection?.socket.isPaused() === true;
    this.cutShort = clientStalled ? `client read nothing for ${idleMs}ms` : `upstream sent nothing for ${idleMs}ms`;
    const upstream = this.upstream;
    if (!clientStalled && upstream !== undefined) this.backend.recordFailure(upstream, 'timeout', now);
    this.phase = FINISHED;
    this.#dropUpstream();
    this.#endTry(clientStalled);
    this.#log();
    this.conn.destroy();
  }

  /** The response head arrived (called by the relay): the try succeeded. */
  responded(status: number): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.phase = STREAMING;
    this.answered = true;
    this.status = status;
    const upstream = this.upstream!;
    this.backend.recordStatus(upstream, status, Date.now());
    upstream.metrics.response(status, (performance.now() - this.tryStartMs) / 1000);
  }

  /** An interim (1xx) response was passed on. */
  interim(): void {
    this.answered = true;
  }

  onUpstreamEnd(): void {
    this.relay?.upstreamEnded();
  }

  onUpstreamClose(error: NodeJS.ErrnoException | undefined): void {
    this.connection = undefined;
    if (this.phase === FINISHED) return;
    if (this.phase === WAITING) {
      const kind = error?.code !== undefined && connectErrors.has(error.code) ? 'connect' : 'reset';
      const reason = error?.code ?? error?.message ?? 'connection closed before a response';
      this.upstreamFailed(kind, reason);
      return;
    }
    // Mid-response: the client's response cannot be completed either.
    this.backend.recordFailure(this.upstream!, 'reset', Date.now());
    this.conn.destroy();
  }

  /** The try failed before a response: retry elsewhere when allowed, else answer 502. */
  upstreamFailed(kind: 'connect' | 'reset', reason: string): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.#dropUpstream();
    const upstream = this.upstream!;
    const now = Date.now();
    this.#endTry(false);
    this.backend.recordFailure(upstream, kind, now);
    this.#retryOrFail(upstream, now, new ProxyError(502, 'BAD_GATEWAY', `upstream server ${upstream.id} failed: ${reason}`, { upstream: upstream.id, reason }));
  }

  tryTimedOut(): void {
    this.timer = undefined;
    if (this.phase !== WAITING) return;
    this.#dropUpstream();
    const upstream = this.upstream!;
    const now = Date.now();
    this.#endTry(false);
    this.backend.recordFailure(upstream, 'timeout', now);
    const error =
      now < this.deadlineMs
        ? new ProxyError(504, 'TIMEOUT', `upstream server ${upstream.id} did not answer within ${this.backend.config.timeouts.try}ms`, { upstream: upstream.id })
        : new ProxyError(504, 'TIMEOUT', `no upstream server answered within ${this.backend.config.timeouts.total}ms`, { upstream: upstream.id, tries: this.tries });
    this.#retryOrFail(upstream, now, error);
  }

  /**
   * Tries another server when that is safe: an idempotent method, a body that can be sent
   * again, no answer started, tries and time left, and the retry budget.
   */
  #retryOrFail(failed: Upstream, now: number, error: ProxyError): void {
    const backend = this.backend;
    const retryable =
      idempotentMethods.has(this.head.method) &&
      (!this.head.hasBody || this.replay !== undefined) &&
      !this.answered &&
      this.tries <= backend.config.retries.max &&
      now < this.deadlineMs &&
      !this.conn.destroyed;
    if (retryable) {
      const tried = (this.tried ??= new Set());
      tried.add(failed.id);
      if (backend.eligible.length > tried.size && backend.retryBudget.tryRetry(now)) {
        const next = backend.pick(this.hashKey, tried, now);
        if (next !== undefined) {
          this.relay = undefined;
          this.#send(next, now);
          return;
        }
      }
    }
    this.fail(error);
  }

  /** Lets go of the upstream connection (or the wait for one) without reusing it. */
  #dropUpstream(): void {
    const connection = this.connection;
    if (connection !== undefined) {
      this.connection = undefined;
      connection.pool.discard(connection);
    } else if (this.upstream !== undefined) {
      this.upstream.pool.cancel(this);
    }
  }

  /** Ends the current try's accounting with its upstream and strategy. */
  #endTry(ok: boolean): void {
    const upstream = this.upstream;
    if (upstream === undefined) return;
    this.upstream = undefined;
    upstream.end();
    this.backend.strategy.onEnd?.(upstream.id, { latencyMs: performance.now() - this.tryStartMs, ok });
  }

  /** Answers with an error, unless an answer already started: then the client connection goes. */
  fail(error: ProxyError): void {
    if (this.phase === FINISHED) return;
    if (this.answered) {
      this.conn.destroy();
      return;
    }
    clearTimeout(this.timer);
    this.timer = undefined;
    this.phase = FINISHED;
    this.#dropUpstream();
    this.#endTry(false);
    this.status = error.status;
    // Unless the request body was read to its end, close: the rest of it is of no use.
    const close = this.conn.closing || !this.requestDone || error.status === 413 || !this.head.keepAlive;
    const response = proxyErrorResponse(error, this.listener.responseHeaderBytes, close);
    this.bytes = response.bodyLength;
    this.answered = true;
    this.conn.write(response.bytes);
    this.#log();
    this.conn.exchangeDone(close);
  }

  /** The response went out whole (called by the relay). */
  completed(reusable: boolean, closeClient: boolean): void {
    this.phase = FINISHED;
    const connection = this.connection;
    if (connection !== undefined) {
      this.connection = undefined;
      // A server that answered before taking the whole body has the rest still coming.
      if (reusable && this.requestDone && !this.upstreamBlocked) {
        connection.socket.resume();
        connection.pool.release(connection);
      } else {
        connection.pool.discard(connection);
      }
    }
    this.#endTry(this.status < 500);
    this.#log();
    this.conn.exchangeDone(closeClient || !this.requestDone);
  }

  /** The client connection closed before the exchange finished. */
  clientGone(): void {
    if (this.phase === FINISHED) return;
    const answered = this.phase === STREAMING;
    this.phase = FINISHED;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.#dropUpstream();
    this.#endTry(answered && this.status < 500);
    // 499 as nginx logs it: the client closed before an answer was sent.
    if (!answered) this.status = 499;
    this.#log();
  }

  /** The client connection can take more: the upstream may send again. */
  clientDrained(): void {
    if (this.phase !== STREAMING) return;
    this.progressMs = Date.now();
    this.connection?.socket.resume();
  }

  #log(): void {
    const accessLog = this.listener.accessLog;
    if (accessLog === undefined) return;
    const line: Record<string, unknown> = {
      method: this.head.method,
      path: this.head.target,
      status: this.status,
      upstream: this.upstreamId ?? null,
      durationMs: Date.now() - this.startMs,
      bytes: this.bytes,
      clientIp: this.conn.origin.clientIp,
      traceId: traceIdOf(this),
      tries: this.tries,
    };
    if (this.cutShort !== undefined) line.error = this.cutShort;
    accessLog.info(line);
  }
}

function noUpstreamError(backend: Backend): ProxyError {
  if (backend.eligible.length === 0) {
    return new ProxyError(503, 'UNAVAILABLE', `no healthy upstream server in backend "${backend.name}"`, { backend: backend.name });
  }
  return new ProxyError(503, 'CIRCUIT_OPEN', `every upstream server of backend "${backend.name}" is refusing requests (circuit open or at its concurrency limit)`, { backend: backend.name });
}
