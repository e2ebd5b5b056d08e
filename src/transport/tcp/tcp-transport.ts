/**
 * The TCP driver of Transport: a listener for inbound peers plus one outbound link per peer
 * address. Framing, authentication and per-socket state live in the files beside this one.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { ShoalError, silentLogger, type Logger } from '../../core/index.ts';
import {
  addressKey,
  type NotifyHandler,
  type PeerAddress,
  type PeerInfo,
  type RequestHandler,
  type RequestOptions,
  type Transport,
  type TransportStats,
} from '../index.ts';
import { Connection, type CloseReason, type ConnectionEvents, type ConnectionSettings, type InboundDispatch } from './connection.ts';
import { DEFAULT_MAX_FRAME_BYTES, FRAME_HEADER_BYTES, encodeFrame, encodeRequestFrame } from './frame.ts';
import { OutboundLink, type LinkContext, type ReconnectPolicy } from './outbound-link.ts';
import { DeadlineQueue } from './deadline-queue.ts';
import { PendingNotify } from './pending-notify.ts';
import { PendingRequest } from './pending-request.ts';

export interface TcpTransportOptions {
  /** This node's id, proven to peers during the handshake. */
  nodeId: string;
  /** Shared by every node of the cluster; never sent over the wire. */
  secret: string;
  logger?: Logger;
  /** Largest frame body accepted or sent (default 16 MiB). */
  maxFrameBytes?: number;
  /** Time a new connection has to authenticate (default 3 s). */
  handshakeTimeoutMs?: number;
  /** Time one TCP connect may take; also the longest notify() waits for a connection (default 5 s). */
  connectTimeoutMs?: number;
  /** Backoff between connection attempts to a refusing peer (default 50 ms doubling up to 2 s). */
  reconnect?: ReconnectPolicy;
}

const DEFAULT_HANDSHAKE_TIMEOUT_MS = 3000;
const DEFAULT_CONNECT_TIMEOUT_MS = 5000;
const DEFAULT_RECONNECT: ReconnectPolicy = { initialMs: 50, maxMs: 2000 };
/** Unanswered inbound requests on one connection before reading from it pauses. */
const MAX_INBOUND_PENDING = 10_000;

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) {
    throw new ShoalError('VALIDATION', `${name} must be a positive number`, { [name]: value });
  }
  return value;
}

export class TcpTransport implements Transport {
  private readonly settings: ConnectionSettings;
  private readonly logger: Logger;
  private readonly linkContext: LinkContext;
  private server: Server | null = null;
  private readonly links = new Map<string, OutboundLink>();
  /**
   * Links by the address object callers pass: they reuse the same one (from the member list),
   * so most calls find their link without building the host:port key.
   */
  private readonly linksByAddress = new WeakMap<PeerAddress, OutboundLink>();
  private readonly inbound = new Set<Connection>();
  private requestHandler: RequestHandler | null = null;
  private notifyHandler: NotifyHandler | null = null;
  private readonly peerDownListeners: Array<(peer: PeerAddress) => void> = [];
  private openConnections = 0;
  private rejectedConnections = 0;
  private nextRequestId = 0;
  private readonly deadlines = new DeadlineQueue<PendingRequest>();
  private closing: Promise<void> | null = null;

  constructor(options: TcpTransportOptions) {
    if (typeof options.nodeId !== 'string' || options.nodeId === '') {
      throw new ShoalError('VALIDATION', 'nodeId must be a non-empty string');
    }
    if (typeof options.secret !== 'string' || options.secret === '') {
      throw new ShoalError('VALIDATION', 'secret must be a non-empty string');
    }
    this.logger = (options.logger ?? silentLogger).child({ component: 'transport.tcp', nodeId: options.nodeId });
    this.settings = {
      nodeId: options.nodeId,
      secret: options.secret,
      maxFrameBytes: positive(options.maxFrameBytes, DEFAULT_MAX_FRAME_BYTES, 'maxFrameBytes'),
      handshakeTimeoutMs: positive(options.handshakeTimeoutMs, DEFAULT_HANDSHAKE_TIMEOUT_MS, 'handshakeTimeoutMs'),
      connectTimeoutMs: positive(options.connectTimeoutMs, DEFAULT_CONNECT_TIMEOUT_MS, 'connectTimeoutMs'),
      maxInboundPending: MAX_INBOUND_PENDING,
      logger: this.logger,
    };
    const reconnect = options.reconnect ?? DEFAULT_RECONNECT;
    const initialMs = positive(reconnect.initialMs, DEFAULT_RECONNECT.initialMs, 'reconnect.initialMs');
    const maxMs = Math.max(initialMs, positive(reconnect.maxMs, DEFAULT_RECONNECT.maxMs, 'reconnect.maxMs'));
    this.linkContext = {
      reconnect: { initialMs, maxMs },
      dial: this.dial,
      onPeerDown: this.emitPeerDown,
    };
  }

  listen(address: PeerAddress): Promise<PeerAddress> {
    if (this.closing) return Promise.reject(new ShoalError('UNAVAILABLE', 'transport is closed'));
    if (this.server) return Promise.reject(new ShoalError('CONFLICT', 'transport is already listening'));
    const server = createServer({ noDelay: true }, this.onInboundSocket);
    this.server = server;
    return new Promise((resolve, reject) => {
      const onListenError = (err: Error): void => {
        this.server = null;
        reject(err);
      };
      server.once('error', onListenError);
      server.listen({ host: address.host, port: address.port }, () => {
        server.off('error', onListenError);
        server.on('error', (err) => this.logger.error({ err }, 'listener error'));
        const bound = server.address();
        const port = bound !== null && typeof bound === 'object' ? bound.port : address.port;
        this.logger.info({ host: address.host, port }, 'listening');
        resolve({ host: address.host, port });
      });
    });
  }

  onRequest(handler: RequestHandler): void {
    this.requestHandler = handler;
  }

  onNotify(handler: NotifyHandler): void {
    this.notifyHandler = handler;
  }

  onPeerDown(listener: (peer: PeerAddress) => void): void {
    this.peerDownListeners.push(listener);
  }

  request(peer: PeerAddress, payload: unknown, options: RequestOptions): Promise<unknown> {
    if (this.closing) return Promise.reject(new ShoalError('UNAVAILABLE', 'transport is closed', { sent: false }));
    const id = ++this.nextRequestId;
    const frame = this.encodeOutbound(payload, id);
    if (frame instanceof ShoalError) return Promise.reject(frame);
    const link = this.linkFor(peer);
    const timeoutMs = options.timeoutMs > 0 ? options.timeoutMs : 0;
    return new Promise((resolve, reject) => {
      const request = new PendingRequest(id, options.peerName ?? link.key, frame, timeoutMs, this.deadlines, resolve, reject);
      const connection = link.connection;
      if (connection) {
        connection.sendRequest(request);
      } else {
        request.holder = link;
        link.wait(request);
      }
    });
  }

  notify(peer: PeerAddress, payload: unknown): Promise<void> {
    if (this.closing) return Promise.reject(new ShoalError('UNAVAILABLE', 'transport is closed', { sent: false }));
    const frame = this.encodeOutbound(payload);
    if (frame instanceof ShoalError) return Promise.reject(frame);
    const link = this.linkFor(peer);
    const connection = link.connection;
    if (connection) return connection.sendNotify(frame);
    return new Promise((resolve, reject) => {
      const message = new PendingNotify(frame, resolve, reject);
      message.timer = setTimeout(() => {
        link.forget(message);
        reject(
          new ShoalError('UNAVAILABLE', `could not connect to ${link.key} within ${this.settings.connectTimeoutMs} ms`, {
            sent: false,
            peer: link.key,
          }),
        );
      }, this.settings.connectTimeoutMs);
      link.wait(message);
    });
  }

  stats(): TransportStats {
    let inflight = 0;
    for (const link of this.links.values()) {
      if (link.connection) inflight += link.connection.pendingCount;
      inflight += link.countWaiting((waiter) => waiter instanceof PendingRequest);
    }
    return { connections: this.openConnections, inflight, rejected: this.rejectedConnections };
  }

  close(): Promise<void> {
    this.closing ??= this.closeAll();
    return this.closing;
  }

  private async closeAll(): Promise<void> {
    const waits: Promise<void>[] = [];
    const server = this.server;
    if (server) waits.push(new Promise((resolve) => server.close(() => resolve())));
    for (const link of this.links.values()) waits.push(link.close());
    for (const connection of this.inbound) waits.push(connection.shutdown());
    await Promise.all(waits);
    this.server = null;
    this.logger.debug({}, 'closed');
  }

  /**
   * Encodes a request (given its id) or else a one-way message, or says why it cannot be sent
   * (nothing is sent in that case).
   */
  private encodeOutbound(payload: unknown, requestId?: number): Buffer | ShoalError {
    let encoded: Buffer;
    try {
      encoded = requestId === undefined ? encodeFrame({ t: 'msg', body: payload }) : encodeRequestFrame(requestId, payload);
    } catch (err) {
      return new ShoalError('BAD_REQUEST', `payload cannot be encoded: ${(err as Error).message}`, { sent: false });
    }
    const bytes = encoded.length - FRAME_HEADER_BYTES;
    if (bytes > this.settings.maxFrameBytes) {
      // The peer would close the whole connection over it, failing every request sharing it.
      return new ShoalError('PAYLOAD_TOO_LARGE', 'payload exceeds the frame limit', {
        sent: false,
        bytes,
        limit: this.settings.maxFrameBytes,
      });
    }
    return encoded;
  }

  private linkFor(peer: PeerAddress): OutboundLink {
    const known = this.linksByAddress.get(peer);
    // The object may have been changed since; the check costs less than the key.
    if (known !== undefined && known.address.port === peer.port && known.address.host === peer.host) return known;
    const link = this.linkByKey(peer);
    this.linksByAddress.set(peer, link);
    return link;
  }

  private linkByKey(peer: PeerAddress): OutboundLink {
    const key = addressKey(peer);
    let link = this.links.get(key);
    if (link === undefined) {
      link = new OutboundLink({ host: peer.host, port: peer.port }, key, this.linkContext);
      this.links.set(key, link);
    }
    return link;
  }

  private readonly dispatch: InboundDispatch = {
    request: (body: unknown, from: PeerInfo): Promise<unknown> => {
      const handler = this.requestHandler;
      if (handler === null) {
        return Promise.reject(
          new ShoalError('UNAVAILABLE', 'this node does not answer requests yet', { sent: false, node: this.settings.nodeId }),
        );
      }
      const result: unknown = handler(body, from);
      return result instanceof Promise ? result : Promise.resolve(result);
    },
    notify: (body: unknown, from: PeerInfo): void => {
      const handler = this.notifyHandler;
      if (handler === null) {
        this.logger.debug({ from: from.nodeId }, 'message dropped: no notify handler');
        return;
      }
      try {
        handler(body, from);
      } catch (err) {
        this.logger.error({ err, from: from.nodeId }, 'notify handler threw');
      }
    },
  };

  /** Bookkeeping shared by inbound and outbound connections. */
  private countOpen(): void {
    this.openConnections++;
  }

  private countClose(reason: CloseReason, wasOpen: boolean): void {
    if (wasOpen) this.openConnections--;
    if (reason.kind === 'rejected') this.rejectedConnections++;
  }

  private readonly inboundEvents: ConnectionEvents = {
    onOpen: () => this.countOpen(),
    onClose: (_connection, reason, wasOpen) => this.countClose(reason, wasOpen),
  };

  private readonly onInboundSocket = (socket: Socket): void => {
    if (this.closing) {
      socket.destroy();
      return;
    }
    const host = socket.remoteFamily === 'IPv6' ? `[${socket.remoteAddress}]` : socket.remoteAddress;
    const remoteAddress = `${host}:${socket.remotePort}`;
    const connection = new Connection(socket, 'server', remoteAddress, this.settings, this.dispatch, this.inboundEvents);
    this.inbound.add(connection);
    socket.once('close', () => this.inbound.delete(connection));
  };

  private readonly dial = (address: PeerAddress, key: string, events: ConnectionEvents): Connection => {
    const socket = connect({ host: address.host, port: address.port, noDelay: true });
    return new Connection(socket, 'client', key, this.settings, this.dispatch, {
      onOpen: (connection) => {
        this.countOpen();
        events.onOpen(connection);
      },
      onClose: (connection, reason, wasOpen) => {
        this.countClose(reason, wasOpen);
        events.onClose(connection, reason, wasOpen);
      },
    });
  };

  private readonly emitPeerDown = (peer: PeerAddress): void => {
    this.logger.info({ peer: addressKey(peer) }, 'peer connection lost');
    for (const listener of this.peerDownListeners) {
      try {
        listener(peer);
      } catch (err) {
        this.logger.error({ err, peer: addressKey(peer) }, 'peer-down listener threw');
      }
    }
  };
}
