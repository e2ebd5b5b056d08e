/**
 * The single outbound connection to one peer address: dialled lazily when something needs it,
 * reused by every request, redialled with exponential backoff while callers are still waiting.
 */
import { Backoff, ShoalError, type BackoffPolicy } from '../../core/index.ts';
import type { PeerAddress } from '../index.ts';
import type { CloseReason, Connection, ConnectionEvents } from './connection.ts';

/** Something waiting for the link to have an open connection. */
export interface LinkWaiter {
  onConnected(connection: Connection): void;
  onConnectFailed(error: ShoalError): void;
}

export type ReconnectPolicy = BackoffPolicy;

export interface LinkContext {
  /** Opens a socket to the address and wraps it in a client-side Connection reporting to events. */
  dial(address: PeerAddress, key: string, events: ConnectionEvents): Connection;
  reconnect: ReconnectPolicy;
  /** An established connection to this peer was lost. */
  onPeerDown(address: PeerAddress): void;
}

export class OutboundLink implements ConnectionEvents {
  readonly address: PeerAddress;
  readonly key: string;
  /** The open connection, or null while there is none. */
  connection: Connection | null = null;
  private attempt: Connection | null = null;
  private readonly waiters = new Set<LinkWaiter>();
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly backoff: Backoff;
  private readonly context: LinkContext;
  private closed = false;

  constructor(address: PeerAddress, key: string, context: LinkContext) {
    this.address = address;
    this.key = key;
    this.context = context;
    this.backoff = new Backoff(context.reconnect);
  }

  /** Outbound requests waiting for a connection (used for stats only). */
  countWaiting(predicate: (waiter: LinkWaiter) => boolean): number {
    let count = 0;
    for (const waiter of this.waiters) if (predicate(waiter)) count++;
    return count;
  }

  /** Calls the waiter back once connected, dialling now unless an attempt or a retry is due. */
  wait(waiter: LinkWaiter): void {
    if (this.closed) {
      waiter.onConnectFailed(new ShoalError('UNAVAILABLE', 'transport is closed', { sent: false }));
      return;
    }
    this.waiters.add(waiter);
    if (this.attempt === null && this.retryTimer === undefined) this.dialNow();
  }

  /** Takes a waiter out (its own timeout fired); with nobody left, retrying stops. */
  forget(waiter: LinkWaiter): void {
    this.waiters.delete(waiter);
    if (this.waiters.size === 0 && this.retryTimer !== undefined) {
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
      this.backoff.reset();
    }
  }

  onOpen(connection: Connection): void {
    if (connection !== this.attempt) return;
    this.attempt = null;
    this.connection = connection;
    this.backoff.reset();
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const waiter of waiters) waiter.onConnected(connection);
  }

  onClose(connection: Connection, reason: CloseReason, wasOpen: boolean): void {
    if (connection === this.connection) {
      this.connection = null;
      // The next caller dials again; nobody waits on this link while it has a connection.
      if (wasOpen && reason.kind !== 'shutdown') this.context.onPeerDown(this.address);
      return;
    }
    if (connection !== this.attempt) return;
    this.attempt = null;
    if (this.closed || reason.kind === 'shutdown') return;
    if (reason.kind === 'rejected' && reason.cause === 'unauthorized') {
      // A wrong secret will not fix itself: fail the callers now rather than retry until they time out.
      this.failWaiters(
        new ShoalError('UNAUTHORIZED', `handshake with ${this.key} failed: ${reason.message}`, { peer: this.key }),
      );
      return;
    }
    if (this.waiters.size === 0) {
      this.backoff.reset();
      return;
    }
    this.retryTimer = setTimeout(this.retry, this.backoff.next());
  }

  /** Fails waiters and closes the connection and any attempt in progress. */
  close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.failWaiters(new ShoalError('UNAVAILABLE', 'transport is closed', { sent: false, peer: this.key }));
    const closing: Promise<void>[] = [];
    if (this.attempt) closing.push(this.attempt.shutdown());
    if (this.connection) closing.push(this.connection.shutdown());
    this.attempt = null;
    this.connection = null;
    return Promise.all(closing).then(() => undefined);
  }

  private readonly retry = (): void => {
    this.retryTimer = undefined;
    if (this.waiters.size > 0 && !this.closed) this.dialNow();
  };

  private dialNow(): void {
    this.attempt = this.context.dial(this.address, this.key, this);
  }

  private failWaiters(error: ShoalError): void {
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const waiter of waiters) waiter.onConnectFailed(error);
  }
}
