/**
 * WebSocket (and any other HTTP/1.1 Upgrade) passthrough: the upgrade request goes to the
 * upstream on a connection of its own, never a pooled one, since it will not come back; once
 * the upstream agrees (101), bytes flow both ways untouched. A refusal is passed on and the
 * client connection closes after it. The request was admitted before the tunnel was made.
 */
import { connect, type Socket } from 'node:net';
import { ChunkedFramer, NEED_MORE } from './chunked-framer.ts';
import type { ClientSide } from './client-side.ts';
import { upstreamHead, type TraceSource } from './forward-headers.ts';
import type { ListenerContext } from './listener-context.ts';
import { ProxyError } from './proxy-errors.ts';
import type { RequestHead } from './request-head.ts';
import { CLOSE, clientResponseHead, headLength, parseResponseHead } from './response-head.ts';
import type { Upstream } from './upstream.ts';

/** connecting: waiting for the upstream's answer; open: a tunnel; refused: relaying the refusal. */
type TunnelState = 'connecting' | 'open' | 'refused' | 'done';

const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');
const noExtra = Buffer.alloc(0);

export class UpgradeTunnel implements TraceSource {
  readonly #conn: ClientSide;
  readonly #context: ListenerContext;
  #upstream: Upstream | undefined;
  #socket: Socket | undefined;
  #state: TunnelState = 'connecting';
  #pendingClient: Buffer[] = [];
  #pendingHead: Buffer | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** A refused upgrade's body: bytes left, or a framer, or neither (until the server closes). */
  #remaining = -1;
  #framer: ChunkedFramer | undefined;
  traceBuf: Buffer | undefined;
  traceAt = 0;

  constructor(conn: ClientSide, head: RequestHead, context: ListenerContext, rest: Buffer | undefined, now: number) {
    this.#conn = conn;
    this.#context = context;
    const backend = context.backend;
    const upstream = backend.pick(backend.hashes ? backend.hashKey(head, conn.origin.clientIp) : undefined, undefined, now);
    if (upstream === undefined) {
      this.#refuse(503, 'Service Unavailable', new ProxyError(503, 'UNAVAILABLE', `no healthy upstream server in backend "${backend.name}"`));
      return;
    }
    this.#upstream = upstream;
    upstream.begin();
    const forward = upstreamHead(head, conn.origin, upstream.hostHeader, this);
    if (rest !== undefined) this.#pendingClient.push(rest);
    const socket = connect({ host: upstream.host, port: upstream.port, noDelay: true });
    this.#socket = socket;
    socket.write(forward);
    socket.on('data', (chunk: Buffer) => this.#upstreamData(chunk));
    socket.on('error', (err: NodeJS.ErrnoException) => this.#upstreamError(err));
    socket.on('close', () => this.#upstreamClosed());
    socket.on('drain', () => conn.resumeReading());
    this.#timer = setTimeout(() => {
      backend.recordFailure(upstream, 'timeout', Date.now());
      this.#refuse(504, 'Gateway Timeout', new ProxyError(504, 'TIMEOUT', `upstream server ${upstream.id} did not answer the upgrade in time`));
    }, backend.config.timeouts.try);
  }

  clientData(chunk: Buffer): void {
    if (this.#state === 'open') {
      if (!this.#socket!.write(chunk)) this.#conn.pauseReading();
    } else if (this.#state === 'connecting') {
      this.#pendingClient.push(chunk);
      // Nothing more is needed before the upstream answers.
      this.#conn.pauseReading();
    }
  }

  clientDrained(): void {
    this.#socket?.resume();
  }

  /** The client finished sending: so does the tunnel's upstream side. */
  clientEnded(): void {
    if (this.#state === 'open') this.#socket!.end();
  }

  clientClosed(): void {
    this.#finish();
  }

  #upstreamData(chunk: Buffer): void {
    const conn = this.#conn;
    if (this.#state === 'open') {
      if (!conn.write(chunk)) this.#socket!.pause();
      return;
    }
    if (this.#state === 'refused') {
      this.#relayRefusal(chunk, 0);
      return;
    }
    if (this.#state !== 'connecting') return;
    const buf = this.#pendingHead === undefined ? chunk : Buffer.concat([this.#pendingHead, chunk]);
    this.#pendingHead = undefined;
    const at = buf.indexOf(HEAD_END);
    if (at === -1) {
      this.#pendingHead = buf;
      return;
    }
    const end = at + 4;
    const head = parseResponseHead(buf, end);
    const upstream = this.#upstream!;
    const backend = this.#context.backend;
    clearTimeout(this.#timer);
    if (typeof head === 'string') {
      backend.recordFailure(upstream, 'reset', Date.now());
      this.#refuse(502, 'Bad Gateway', new ProxyError(502, 'BAD_GATEWAY', `upstream server ${upstream.id} sent an invalid response: ${head}`));
      return;
    }
    backend.recordStatus(upstream, head.status, Date.now());
    if (head.status === 101) {
      this.#state = 'open';
      conn.write(end === buf.length ? buf : buf.subarray(0, end));
      if (end < buf.length) conn.write(buf.subarray(end));
      for (const pending of this.#pendingClient.splice(0)) this.#socket!.write(pending);
      conn.resumeReading();
      return;
    }
    // The upstream declined to switch protocols: relay its answer and close.
    this.#state = 'refused';
    const out = clientResponseHead(head, noExtra, CLOSE, 0, 0);
    conn.write(out.subarray(0, headLength));
    if (head.chunked) this.#framer = new ChunkedFramer();
    else this.#remaining = head.status === 204 || head.status === 304 ? 0 : head.contentLength;
    if (this.#remaining === 0) this.#closeClient();
    else if (end < buf.length) this.#relayRefusal(buf, end);
  }

  #relayRefusal(buf: Buffer, start: number): void {
    let stop = buf.length;
    if (this.#framer !== undefined) {
      const result = this.#framer.feed(buf, start, buf.length);
      if (result >= 0) stop = result;
      else if (result !== NEED_MORE) return this.#conn.destroy();
    } else if (this.#remaining > 0) {
      stop = Math.min(buf.length, start + this.#remaining);
      this.#remaining -= stop - start;
    }
    this.#conn.write(buf.subarray(start, stop));
    if (this.#remaining === 0 || this.#framer?.done === true) this.#closeClient();
  }

  #closeClient(): void {
    this.#conn.end();
    this.#finish();
  }

  #upstreamError(err: NodeJS.ErrnoException): void {
    if (this.#state !== 'connecting' || this.#upstream === undefined) return;
    clearTimeout(this.#timer);
    const upstream = this.#upstream;
    this.#context.backend.recordFailure(upstream, err.code === 'ECONNREFUSED' ? 'connect' : 'reset', Date.now());
    this.#refuse(502, 'Bad Gateway', new ProxyError(502, 'BAD_GATEWAY', `upstream server ${upstream.id} failed: ${err.code ?? err.message}`));
  }

  #upstreamClosed(): void {
    if (this.#state === 'connecting') {
      this.#upstreamError(Object.assign(new Error('connection closed before a response'), { code: 'ECONNRESET' }));
      return;
    }
    // The tunnel's far end is gone: let what was sent reach the client, then close.
    this.#conn.end();
    this.#finish();
  }

  #refuse(status: number, reason: string, error: ProxyError): void {
    this.#conn.refuse(status, reason, error);
    this.#finish();
  }

  /** Releases the upstream slot and the upstream connection, once. */
  #finish(): void {
    if (this.#state === 'done') return;
    this.#state = 'done';
    clearTimeout(this.#timer);
    this.#socket?.destroy();
    this.#upstream?.end();
  }
}
