/**
 * Forwarding one admitted request to an upstream server and its response back, at the byte
 * level: the rewritten head and the body go to a pooled keep-alive connection, and the
 * response's framing is followed (by the ResponseRelay) to know when that connection is free
 * again. Failed tries go to a different server when the retry rule allows it, within per-try
 * and total timeouts; health and balancing get their bookkeeping.
 *
 * This is the hot path. Socket events reach an exchange through handlers installed once per
 * connection (see ClientConnection and ConnectionPool), the try timer gets the exchange as an
 * argument, and bodies are relayed chunk by chunk, never buffered whole.
 */
import { accessLogLine } from './access-log-line.ts';
import type { Backend } from './backend-pool.ts';
import type { ClientSide } from './client-side.ts';
import { traceIdOf, upstreamHead, type TraceSource } from './forward-headers.ts';
import type { ListenerContext } from './listener-context.ts';
import { noUpstreamError, ProxyError, proxyErrorResponse, totalTimeoutError, tryTimeoutError, upstreamFailedError } from './proxy-errors.ts';
import { BODY_TOO_LARGE, RequestBody } from './request-body.ts';
import type { RequestHead } from './request-head.ts';
import { ResponseRelay, type RelayOwner } from './response-relay.ts';
import { isIdempotent, retryVerdict, tryTimeoutMs } from './retry-rule.ts';
import type { Upstream } from './upstream.ts';
import type { UpstreamConnection, UpstreamOwner } from './upstream-pool.ts';

const connectErrors = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ENOTFOUND']);

/** waiting: for a response head; streaming: the response flows to the client; finished: no more events matter. */
export type ExchangePhase = 'waiting' | 'streaming' | 'finished';

function uncork(socket: { uncork(): void }): void {
  socket.uncork();
}

function onTryTimeout(exchange: ProxyExchange): void {
  exchange.tryTimedOut();
}

export class ProxyExchange implements UpstreamOwner, TraceSource, RelayOwner {
  readonly head: RequestHead;
  readonly #conn: ClientSide;
  readonly #listener: ListenerContext;
  readonly #backend: Backend;
  readonly #startMs: number;
  readonly #deadlineMs: number;
  traceBuf: Buffer | undefined = undefined;
  traceAt = 0;
  #forwardHead: Buffer | undefined = undefined;
  #hashKey: string | undefined = undefined;
  /** Undefined for a request without a body. */
  readonly #body: RequestBody | undefined;
  #tries = 0;
  #tried: Set<string> | undefined = undefined;
  #upstream: Upstream | undefined = undefined;
  #upstreamId: string | undefined = undefined;
  #connection: UpstreamConnection | undefined = undefined;
  /** The upstream's write buffer is full: request body waits for its drain. */
  #upstreamBlocked = false;
  #tryStartMs = 0;
  #timer: NodeJS.Timeout | undefined = undefined;
  #phase: ExchangePhase = 'waiting';
  #relay: ResponseRelay | undefined = undefined;
  /** A byte of an answer (interim or final) went to the client: no retry any more. */
  #answered = false;
  #status = 0;
  /** While a response streams: when bytes last moved (from the upstream, or out to the client). */
  #progressMs = 0;
  /** Why the exchange was cut short after its answer started, for the access log. */
  #cutShort: string | undefined = undefined;

  constructor(conn: ClientSide, head: RequestHead, listener: ListenerContext, now: number) {
    this.#conn = conn;
    this.head = head;
    this.#listener = listener;
    this.#backend = listener.backend;
    this.#startMs = now;
    this.#deadlineMs = now + this.#backend.config.timeouts.total;
    this.#body = head.hasBody ? new RequestBody(head, isIdempotent(head.method)) : undefined;
  }

  /** The whole request body (if any) was read from the client. */
  get requestDone(): boolean {
    return this.#body === undefined || this.#body.done;
  }

  /** Body bytes wait for the upstream connection to drain. */
  get upstreamBlocked(): boolean {
    return this.#upstreamBlocked;
  }

  get clientClosing(): boolean {
    return this.#conn.closing;
  }

  get responseHeaderBytes(): Buffer {
    return this.#listener.responseHeaderBytes;
  }

  /** Runs right after the exchange became the connection's (a failure here ends it at once). */
  start(now: number): void {
    const backend = this.#backend;
    if (backend.hashes) this.#hashKey = backend.hashKey(this.head, this.#conn.origin.clientIp);
    backend.retryBudget.recordRequest(now);
    const upstream = backend.pick(this.#hashKey, undefined, now);
    if (upstream === undefined) {
      this.#listener.metrics.refused(this.#listener.name, 503);
      this.fail(noUpstreamError(backend.name, backend.eligible.length));
      return;
    }
    this.#forwardHead = upstreamHead(this.head, this.#conn.origin, upstream.hostHeader, this);
    this.#send(upstream, now);
  }

  #send(upstream: Upstream, now: number): void {
    const backend = this.#backend;
    this.#tries++;
    this.#upstream = upstream;
    this.#upstreamId = upstream.id;
    upstream.begin();
    backend.strategy.onStart?.(upstream.id);
    this.#tryStartMs = performance.now();
    this.#timer = setTimeout(onTryTimeout, tryTimeoutMs(backend.config.timeouts.try, this.#deadlineMs, now), this);
    upstream.pool.acquire(this);
  }

  onUpstreamSocket(connection: UpstreamConnection): void {
    this.#connection = connection;
    this.#upstreamBlocked = false;
    const socket = connection.socket;
    const body = this.#body;
    const replay = body?.replay;
    if (body !== undefined && (!body.done || (replay !== undefined && replay.length > 0))) {
      // Head and the first body bytes leave in one write.
      socket.cork();
      process.nextTick(uncork, socket);
    }
    socket.write(this.#forwardHead!);
    if (replay !== undefined) for (let i = 0; i < replay.length; i++) socket.write(replay[i]);
    // Body bytes the client connection holds can flow now.
    if (body !== undefined && !body.done) this.#conn.pump();
  }

  /** Whether request body bytes can be taken now. */
  get canTakeBody(): boolean {
    const body = this.#body;
    return body !== undefined && !body.done && this.#connection !== undefined && !this.#upstreamBlocked && this.#phase !== 'finished';
  }

  /** Takes request body bytes from buf[start, end); returns where the body ended or `end`. */
  takeBody(buf: Buffer, start: number, end: number): number {
    const body = this.#body!;
    const listener = this.#listener;
    const limit = listener.maxBodyBytes;
    const stop = body.take(buf, start, end, limit);
    if (stop < 0) {
      if (stop === BODY_TOO_LARGE) {
        listener.metrics.refused(listener.name, 413);
        this.#abortRequest(new ProxyError(413, 'PAYLOAD_TOO_LARGE', `request body exceeds the limit of ${limit} bytes`, { limit }));
      } else {
        this.#abortRequest(new ProxyError(400, 'BAD_REQUEST', 'malformed chunked request body'));
      }
      return end;
    }
    if (stop === start) return stop;
    const chunk = start === 0 && stop === buf.length ? buf : buf.subarray(start, stop);
    body.keep(chunk);
    if (!this.#connection!.socket.write(chunk)) {
      this.#upstreamBlocked = true;
      this.#conn.pauseReading();
    }
    return stop;
  }

  /** The request body cannot go on: answer (when nothing was answered yet) and close. */
  #abortRequest(error: ProxyError): void {
    if (this.#answered) this.#conn.destroy();
    else this.fail(error);
  }

  onUpstreamDrain(): void {
    if (!this.#upstreamBlocked) return;
    this.#upstreamBlocked = false;
    this.#conn.pump();
  }

  onUpstreamData(chunk: Buffer): void {
    if (this.#phase === 'finished') return;
    if (this.#relay === undefined) this.#relay = new ResponseRelay(this);
    this.#relay.data(chunk);
    if (this.#phase === 'streaming') this.#progressMs = Date.now();
  }

  /**
   * Called by the listener's timeout sweep: when a streaming answer moved no bytes either way
   * for timeouts.idle, the upstream stalled (or the client stopped reading, while the upstream
   * waits paused), and both connections close, as nothing more of it can reach the client.
   */
  checkStall(now: number): void {
    if (this.#phase !== 'streaming') return;
    const idleMs = this.#backend.config.timeouts.idle;
    if (now - this.#progressMs <= idleMs) return;
    const clientStalled = this.#connection?.socket.isPaused() === true;
    this.#cutShort = clientStalled ? `client read nothing for ${idleMs}ms` : `upstream sent nothing for ${idleMs}ms`;
    const upstream = this.#upstream;
    if (!clientStalled && upstream !== undefined) this.#backend.recordFailure(upstream, 'timeout', now);
    this.#phase = 'finished';
    this.#dropUpstream();
    this.#endTry(clientStalled);
    this.#log(this.#relayedBytes());
    this.#conn.destroy();
  }

  responded(status: number): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#phase = 'streaming';
    this.#answered = true;
    this.#status = status;
    const upstream = this.#upstream!;
    this.#backend.recordStatus(upstream, status, Date.now());
    upstream.metrics.response(status, (performance.now() - this.#tryStartMs) / 1000);
  }

  interim(head: Buffer): void {
    this.#conn.write(head);
    this.#answered = true;
  }

  sendToClient(data: Buffer): void {
    // The client is slower than the server: stop reading the server until the client drains.
    if (!this.#conn.write(data)) this.#connection?.socket.pause();
  }

  responseBroken(): void {
    const upstream = this.#upstream;
    if (upstream !== undefined) this.#backend.recordFailure(upstream, 'reset', Date.now());
    this.#conn.destroy();
  }

  onUpstreamEnd(): void {
    this.#relay?.upstreamEnded();
  }

  onUpstreamClose(error: NodeJS.ErrnoException | undefined): void {
    this.#connection = undefined;
    if (this.#phase === 'finished') return;
    if (this.#phase === 'waiting') {
      const kind = error?.code !== undefined && connectErrors.has(error.code) ? 'connect' : 'reset';
      const reason = error?.code ?? error?.message ?? 'connection closed before a response';
      this.upstreamFailed(kind, reason);
      return;
    }
    // Mid-response: the client's response cannot be completed either.
    this.responseBroken();
  }

  /** The try failed before a response: retry elsewhere when allowed, else answer 502. */
  upstreamFailed(kind: 'connect' | 'reset', reason: string): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#dropUpstream();
    const upstream = this.#upstream!;
    const now = Date.now();
    this.#endTry(false);
    this.#backend.recordFailure(upstream, kind, now);
    this.#retryOrFail(upstream, now, upstreamFailedError(upstream.id, reason));
  }

  tryTimedOut(): void {
    this.#timer = undefined;
    if (this.#phase !== 'waiting') return;
    this.#dropUpstream();
    const upstream = this.#upstream!;
    const now = Date.now();
    this.#endTry(false);
    this.#backend.recordFailure(upstream, 'timeout', now);
    const timeouts = this.#backend.config.timeouts;
    const error = now < this.#deadlineMs ? tryTimeoutError(upstream.id, timeouts.try) : totalTimeoutError(upstream.id, timeouts.total, this.#tries);
    this.#retryOrFail(upstream, now, error);
  }

  /** Tries another server when the retry rule and the retry budget allow it, else answers `error`. */
  #retryOrFail(failed: Upstream, now: number, error: ProxyError): void {
    const backend = this.#backend;
    const tried = (this.#tried ??= new Set());
    tried.add(failed.id);
    const body = this.#body;
    const verdict = retryVerdict({
      method: this.head.method,
      hasBody: body !== undefined,
      bodyReplayable: body !== undefined && body.replayable,
      answered: this.#answered,
      tries: this.#tries,
      maxRetries: backend.config.retries.max,
      nowMs: now,
      deadlineMs: this.#deadlineMs,
      clientGone: this.#conn.destroyed,
      serversLeft: backend.eligible.length - tried.size,
      budgetLeft: backend.retryBudget.allows(now),
    });
    if (verdict === 'retry') {
      backend.retryBudget.spend(now);
      const next = backend.pick(this.#hashKey, tried, now);
      if (next !== undefined) {
        this.#relay = undefined;
        this.#send(next, now);
        return;
      }
    }
    this.fail(error);
  }

  /** Lets go of the upstream connection (or the wait for one) without reusing it. */
  #dropUpstream(): void {
    const connection = this.#connection;
    if (connection !== undefined) {
      this.#connection = undefined;
      connection.pool.discard(connection);
    } else if (this.#upstream !== undefined) {
      this.#upstream.pool.cancel(this);
    }
  }

  /** Ends the current try's accounting with its upstream and strategy. */
  #endTry(ok: boolean): void {
    const upstream = this.#upstream;
    if (upstream === undefined) return;
    this.#upstream = undefined;
    upstream.end();
    this.#backend.strategy.onEnd?.(upstream.id, { latencyMs: performance.now() - this.#tryStartMs, ok });
  }

  /** Answers with an error, unless an answer already started: then the client connection goes. */
  fail(error: ProxyError): void {
    if (this.#phase === 'finished') return;
    if (this.#answered) {
      this.#conn.destroy();
      return;
    }
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#phase = 'finished';
    this.#dropUpstream();
    this.#endTry(false);
    this.#status = error.status;
    // Unless the request body was read to its end, close: the rest of it is of no use.
    const close = this.#conn.closing || !this.requestDone || error.status === 413 || !this.head.keepAlive;
    const response = proxyErrorResponse(error, this.#listener.responseHeaderBytes, close);
    this.#answered = true;
    this.#conn.write(response.bytes);
    this.#log(response.bodyLength);
    this.#conn.exchangeDone(close);
  }

  completed(reusable: boolean, closeClient: boolean): void {
    this.#phase = 'finished';
    const connection = this.#connection;
    const requestDone = this.requestDone;
    if (connection !== undefined) {
      this.#connection = undefined;
      // A server that answered before taking the whole body has the rest still coming.
      if (reusable && requestDone && !this.#upstreamBlocked) {
        connection.socket.resume();
        connection.pool.release(connection);
      } else {
        connection.pool.discard(connection);
      }
    }
    this.#endTry(this.#status < 500);
    this.#log(this.#relayedBytes());
    this.#conn.exchangeDone(closeClient || !requestDone);
  }

  /** The client connection closed before the exchange finished. */
  clientGone(): void {
    if (this.#phase === 'finished') return;
    const answered = this.#phase === 'streaming';
    this.#phase = 'finished';
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#dropUpstream();
    this.#endTry(answered && this.#status < 500);
    // 499 as nginx logs it: the client closed before an answer was sent.
    if (!answered) this.#status = 499;
    this.#log(this.#relayedBytes());
  }

  /** The client connection can take more: the upstream may send again. */
  clientDrained(): void {
    if (this.#phase !== 'streaming') return;
    this.#progressMs = Date.now();
    this.#connection?.socket.resume();
  }

  #relayedBytes(): number {
    return this.#relay === undefined ? 0 : this.#relay.bytes;
  }

  #log(bytes: number): void {
    const accessLog = this.#listener.accessLog;
    if (accessLog === undefined) return;
    accessLog.info(accessLogLine(this.head, this.#conn.origin.clientIp, this.#status, this.#upstreamId, Date.now() - this.#startMs, bytes, traceIdOf(this), this.#tries, this.#cutShort));
  }
}
