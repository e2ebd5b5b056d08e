/**
 * One outbound request from the moment request() is called until it settles: while waiting for
 * a connection, then while its frame is queued or awaiting the answer.
 */
import { monotonicMs, ShoalError } from '../../core/index.ts';
import type { Connection } from './connection.ts';
import type { DeadlineQueue, Expirable } from './deadline-queue.ts';
import type { LinkWaiter } from './outbound-link.ts';

/** Where a pending request currently sits, so a timeout can take it out again. */
export interface PendingRequestHolder {
  forget(request: PendingRequest): void;
}

export class PendingRequest implements LinkWaiter, Expirable {
  readonly id: number;
  /** host:port of the peer, for error messages. */
  /** How errors name the peer: the caller's name for it, else its address. */
  readonly peerKey: string;
  readonly timeoutMs: number;
  deadline: number;
  heapIndex = -1;
  /** The encoded request frame; kept until it is queued on a connection. */
  frame: Buffer | null;
  /** The frame's sequence number on its connection's writer, 0 while not queued. */
  seq = 0;
  holder: PendingRequestHolder | null = null;
  settled = false;
  private readonly deadlines: DeadlineQueue<PendingRequest>;
  private readonly resolveFn: (value: unknown) => void;
  private readonly rejectFn: (err: Error) => void;

  /** Starts the timeout at once: it covers waiting for a connection as well as for the answer. */
  constructor(
    id: number,
    peerKey: string,
    frame: Buffer,
    timeoutMs: number,
    deadlines: DeadlineQueue<PendingRequest>,
    resolve: (value: unknown) => void,
    reject: (err: Error) => void,
  ) {
    this.id = id;
    this.peerKey = peerKey;
    this.frame = frame;
    this.timeoutMs = timeoutMs;
    this.deadline = monotonicMs() + timeoutMs;
    this.deadlines = deadlines;
    this.resolveFn = resolve;
    this.rejectFn = reject;
    deadlines.add(this);
  }

  /** True once the frame is queued on a connection (so a timeout means the peer was slow). */
  get queued(): boolean {
    return this.seq > 0;
  }

  onConnected(connection: Connection): void {
    connection.sendRequest(this);
  }

  onConnectFailed(error: ShoalError): void {
    this.reject(error);
  }

  resolve(value: unknown): void {
    if (this.settled) return;
    this.finish();
    this.resolveFn(value);
  }

  reject(err: ShoalError): void {
    if (this.settled) return;
    this.finish();
    this.rejectFn(err);
  }

  /** The timeout passed: a late answer will be dropped. */
  expire(): void {
    if (this.settled) return;
    const { timeoutMs, peerKey } = this;
    this.holder?.forget(this);
    this.reject(
      this.queued
        ? new ShoalError('TIMEOUT', `no answer from ${peerKey} within ${timeoutMs} ms`, { timeoutMs, peer: peerKey })
        : new ShoalError('UNAVAILABLE', `could not connect to ${peerKey} within ${timeoutMs} ms`, { sent: false, peer: peerKey }),
    );
  }

  private finish(): void {
    this.settled = true;
    this.holder = null;
    this.frame = null;
    this.deadlines.remove(this);
  }
}
