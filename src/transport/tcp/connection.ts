/**
 * One authenticated socket, accepted or dialled: runs the handshake, then carries requests,
 * answers and one-way messages in both directions. A misbehaving peer only ever costs its own
 * connection: every failure here ends in closing this socket, never in a throw.
 */
import type { Socket } from 'node:net';
import { ShoalError, errorFromWire, errorToWire, type Logger } from '../../core/index.ts';
import type { PeerInfo } from '../index.ts';
import {
  FRAME_HEADER_BYTES,
  FrameDecoder,
  FrameTooLargeError,
  TAG_FAILURE,
  TAG_REQUEST,
  callTupleTag,
  encodeFrame,
  encodeResponseFrame,
  type Frame,
  frameFromValue,
  type HandshakeFrame,
  unpackBody,
} from './frame.ts';
import { FrameWriter } from './frame-writer.ts';
import { ClientHandshake, HANDSHAKE_MAX_FRAME_BYTES, ServerHandshake, type HandshakeStep } from './handshake.ts';
import type { PendingRequest, PendingRequestHolder } from './pending-request.ts';

/** How long a closing socket may take to flush before it is destroyed. */
const CLOSE_GRACE_MS = 1000;

export interface ConnectionSettings {
  nodeId: string;
  secret: string;
  maxFrameBytes: number;
  handshakeTimeoutMs: number;
  connectTimeoutMs: number;
  /** Reading pauses while more inbound requests than this are unanswered. */
  maxInboundPending: number;
  logger: Logger;
}

/** Where inbound requests and messages go once the peer is authenticated. */
export interface InboundDispatch {
  request(body: unknown, from: PeerInfo): Promise<unknown>;
  notify(body: unknown, from: PeerInfo): void;
}

export type RejectCause = 'malformed' | 'too-large' | 'unauthorized' | 'handshake-timeout' | 'protocol';

export type CloseReason =
  | { kind: 'rejected'; cause: RejectCause; message: string }
  | { kind: 'lost'; message: string }
  | { kind: 'shutdown' };

export interface ConnectionEvents {
  onOpen(connection: Connection): void;
  /** Called once; wasOpen tells whether the handshake had completed. */
  onClose(connection: Connection, reason: CloseReason, wasOpen: boolean): void;
}

type ConnectionState =
  | { phase: 'handshake'; handshake: ServerHandshake | ClientHandshake }
  | { phase: 'open'; peer: PeerInfo }
  | { phase: 'closed'; reason: CloseReason };

export class Connection implements PendingRequestHolder {
  /** host:port of the other end, for logs and errors. */
  readonly remoteAddress: string;
  private readonly socket: Socket;
  private readonly settings: ConnectionSettings;
  private readonly dispatch: InboundDispatch;
  private readonly events: ConnectionEvents;
  private readonly decoder: FrameDecoder;
  private readonly writer: FrameWriter;
  private state: ConnectionState;
  private pending = new Map<number, PendingRequest>();
  private inboundPending = 0;
  private readingPaused = false;
  private timer: NodeJS.Timeout | undefined;
  private socketError: Error | null = null;
  private socketClosed = false;
  private readonly socketCloseWaiters: Array<() => void> = [];

  constructor(
    socket: Socket,
    role: 'client' | 'server',
    remoteAddress: string,
    settings: ConnectionSettings,
    dispatch: InboundDispatch,
    events: ConnectionEvents,
  ) {
    this.socket = socket;
    this.remoteAddress = remoteAddress;
    this.settings = settings;
    this.dispatch = dispatch;
    this.events = events;
    this.decoder = new FrameDecoder(Math.min(HANDSHAKE_MAX_FRAME_BYTES, settings.maxFrameBytes));
    this.writer = new FrameWriter(socket);
    socket.setNoDelay(true);
    socket.on('data', this.onData);
    socket.on('error', this.onSocketError);
    socket.on('close', this.onSocketClose);

    if (role === 'server') {
      const handshake = new ServerHandshake(settings.secret, settings.nodeId);
      this.state = { phase: 'handshake', handshake };
      this.send(handshake.hello());
      this.armTimer(settings.handshakeTimeoutMs, this.onHandshakeTimeout);
    } else {
      this.state = { phase: 'handshake', handshake: new ClientHandshake(settings.secret, settings.nodeId) };
      if (socket.connecting) {
        this.armTimer(settings.connectTimeoutMs, this.onConnectTimeout);
        socket.once('connect', () => this.armTimer(settings.handshakeTimeoutMs, this.onHandshakeTimeout));
      } else {
        this.armTimer(settings.handshakeTimeoutMs, this.onHandshakeTimeout);
      }
    }
  }

  get isOpen(): boolean {
    return this.state.phase === 'open';
  }

  isClosed(): boolean {
    return this.state.phase === 'closed';
  }

  /** Outbound requests on this connection awaiting their answer. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** Queues a request whose frame is already encoded; its answer settles it. */
  sendRequest(request: PendingRequest): void {
    const frame = request.frame;
    if (this.state.phase !== 'open' || frame === null) {
      request.reject(this.unavailable(false));
      return;
    }
    request.holder = this;
    request.frame = null;
    this.pending.set(request.id, request);
    request.seq = this.writer.enqueue(frame);
  }

  /** Queues a one-way message; resolves once the socket took it without being congested. */
  sendNotify(frame: Buffer): Promise<void> {
    if (this.state.phase !== 'open') return Promise.reject(this.unavailable(false));
    return this.writer.enqueueAndWait(frame);
  }

  /** Takes a request out after its timeout, so a late answer is dropped. */
  forget(request: PendingRequest): void {
    this.pending.delete(request.id);
  }

  /** Closes on the transport's behalf: fails what is in flight, flushes, ends the socket. */
  shutdown(): Promise<void> {
    const wasOpen = this.state.phase === 'open';
    this.writer.flush();
    this.finish({ kind: 'shutdown' });
    if (wasOpen) this.endGracefully();
    else this.socket.destroy();
    return this.whenSocketClosed();
  }

  private whenSocketClosed(): Promise<void> {
    if (this.socketClosed) return Promise.resolve();
    return new Promise((resolve) => this.socketCloseWaiters.push(resolve));
  }

  private readonly onData = (chunk: Buffer): void => {
    try {
      this.decoder.push(chunk, this.onBody);
    } catch (err) {
      if (err instanceof FrameTooLargeError) this.reject('too-large', err.message);
      else this.reject('malformed', (err as Error).message);
    }
  };

  private readonly onBody = (body: Buffer): boolean => {
    if (this.state.phase === 'closed') return false;
    let frame: Frame;
    try {
      const value = unpackBody(body);
      // Requests and answers on an open connection are served straight from their tuple,
      // without building a frame object per call.
      if (this.state.phase === 'open') {
        const tag = callTupleTag(value);
        if (tag >= 0) {
          const tuple = value as [number, number, unknown];
          if (tag === TAG_REQUEST) this.handleRequest(tuple[1], tuple[2], this.state.peer);
          else this.handleResponse(tuple[1], tuple[2], tag === TAG_FAILURE);
          return !this.isClosed();
        }
      }
      frame = frameFromValue(value);
    } catch (err) {
      this.reject('malformed', (err as Error).message);
      return false;
    }
    this.handleFrame(frame);
    // handleFrame may have closed the connection; read the state afresh.
    return !this.isClosed();
  };

  private handleFrame(frame: Frame): void {
    const state = this.state;
    if (state.phase === 'open') {
      switch (frame.t) {
        case 'req':
          this.handleRequest(frame.id, frame.body, state.peer);
          return;
        case 'res':
          if ('err' in frame) this.handleResponse(frame.id, frame.err, true);
          else this.handleResponse(frame.id, frame.ok, false);
          return;
        case 'msg':
          this.dispatch.notify(frame.body, state.peer);
          return;
        default:
          this.reject('protocol', `${frame.t} frame after the handshake`);
          return;
      }
    }
    if (state.phase === 'handshake') {
      if (frame.t === 'req' || frame.t === 'res' || frame.t === 'msg') {
        this.reject('protocol', `${frame.t} frame before authentication`);
        return;
      }
      this.applyHandshakeStep(state.handshake.receive(frame));
    }
  }

  private applyHandshakeStep(step: HandshakeStep): void {
    switch (step.kind) {
      case 'send':
        this.send(step.frame);
        return;
      case 'authenticated':
        if (step.reply) this.send(step.reply);
        clearTimeout(this.timer);
        this.state = { phase: 'open', peer: { nodeId: step.peerNodeId, remoteAddress: this.remoteAddress } };
        this.decoder.maxFrameBytes = this.settings.maxFrameBytes;
        this.events.onOpen(this);
        return;
      case 'failed':
        if (step.reply) {
          // The denial is written before closing so the peer learns why, instead of retrying.
          this.send(step.reply);
          this.writer.flush();
          this.reject(step.reason, step.message, true);
        } else {
          this.reject(step.reason, step.message);
        }
        return;
    }
  }

  private handleRequest(id: number, body: unknown, from: PeerInfo): void {
    this.inboundPending++;
    if (this.inboundPending > this.settings.maxInboundPending && !this.readingPaused) {
      this.readingPaused = true;
      this.socket.pause();
    }
    void this.serveRequest(id, body, from);
  }

  /** One async frame per request rather than a pair of closures capturing its id. */
  private async serveRequest(id: number, body: unknown, from: PeerInfo): Promise<void> {
    let value: unknown;
    let failed = false;
    try {
      value = await this.dispatch.request(body, from);
    } catch (err) {
      value = err;
      failed = true;
    }
    this.answer(id, value, failed);
  }

  private answer(id: number, value: unknown, failed: boolean): void {
    this.inboundPending--;
    if (this.readingPaused && this.inboundPending <= this.settings.maxInboundPending / 2) {
      this.readingPaused = false;
      this.socket.resume();
    }
    if (this.state.phase !== 'open') return;
    let frame: Buffer;
    try {
      frame = encodeResponseFrame(id, failed ? errorToWire(value) : value, failed);
    } catch (err) {
      frame = this.errorFrame(id, new ShoalError('INTERNAL', `answer cannot be encoded: ${(err as Error).message}`));
    }
    if (frame.length - FRAME_HEADER_BYTES > this.settings.maxFrameBytes) {
      frame = this.errorFrame(
        id,
        new ShoalError('PAYLOAD_TOO_LARGE', 'answer exceeds the frame limit', {
          bytes: frame.length - FRAME_HEADER_BYTES,
          limit: this.settings.maxFrameBytes,
        }),
      );
    }
    this.writer.enqueue(frame);
  }

  private errorFrame(id: number, error: ShoalError): Buffer {
    return encodeResponseFrame(id, errorToWire(error), true);
  }

  private handleResponse(id: number, value: unknown, failed: boolean): void {
    const request = this.pending.get(id);
    // No entry: the request already timed out, and its late answer is dropped.
    if (request === undefined) return;
    this.pending.delete(id);
    if (failed) request.reject(errorFromWire(value));
    else request.resolve(value);
  }

  private send(frame: HandshakeFrame): void {
    this.writer.enqueue(encodeFrame(frame));
  }

  private armTimer(ms: number, onExpiry: () => void): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(onExpiry, ms);
  }

  private readonly onConnectTimeout = (): void => {
    this.finish({ kind: 'lost', message: `connect timed out after ${this.settings.connectTimeoutMs} ms` });
    this.socket.destroy();
  };

  private readonly onHandshakeTimeout = (): void => {
    this.reject('handshake-timeout', `handshake not completed within ${this.settings.handshakeTimeoutMs} ms`);
  };

  /** Closes this connection for the peer's misbehaviour, with a warning naming the peer. */
  private reject(cause: RejectCause, message: string, graceful = false): void {
    if (this.state.phase === 'closed') return;
    this.settings.logger.warn(
      { remoteAddress: this.remoteAddress, cause, reason: message },
      'closing connection: peer rejected',
    );
    this.finish({ kind: 'rejected', cause, message });
    if (graceful) this.endGracefully();
    else this.socket.destroy();
  }

  private endGracefully(): void {
    this.socket.end();
    const destroyTimer = setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS);
    destroyTimer.unref();
    this.socket.once('close', () => clearTimeout(destroyTimer));
  }

  private readonly onSocketError = (err: Error): void => {
    // 'close' follows every 'error'; the error only explains the close.
    this.socketError = err;
  };

  private readonly onSocketClose = (): void => {
    this.socketClosed = true;
    const message = this.socketError ? this.socketError.message : 'closed by peer';
    this.finish({ kind: 'lost', message });
    for (const resolve of this.socketCloseWaiters.splice(0)) resolve();
  };

  /** Moves to closed once: fails everything in flight and tells the owner. */
  private finish(reason: CloseReason): void {
    if (this.state.phase === 'closed') return;
    const wasOpen = this.state.phase === 'open';
    this.state = { phase: 'closed', reason };
    clearTimeout(this.timer);
    const pending = this.pending;
    this.pending = new Map();
    const writtenSeq = this.writer.writtenSeq;
    for (const request of pending.values()) request.reject(this.unavailable(request.seq <= writtenSeq, reason));
    this.writer.fail((sent) => this.unavailable(sent, reason));
    try {
      this.events.onClose(this, reason, wasOpen);
    } catch (err) {
      this.settings.logger.error({ err, remoteAddress: this.remoteAddress }, 'connection close listener threw');
    }
  }

  private unavailable(sent: boolean, reason?: CloseReason): ShoalError {
    const why = reason === undefined ? 'not open' : reason.kind === 'shutdown' ? 'transport closed' : reason.message;
    return new ShoalError('UNAVAILABLE', `connection to ${this.remoteAddress} closed: ${why}`, {
      sent,
      peer: this.remoteAddress,
    });
  }
}
