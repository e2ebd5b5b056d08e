/**
 * One outbound request from the moment request() is called until it settles: while waiting for
 * a connection, then while its frame is queued or awaiting the answer.
 */
import type { ShoalError } from '../../core/errors.ts';
import type { Connection } from './connection.ts';
import type { LinkWaiter } from './outbound-link.ts';

/** Where a pending request currently sits, so a timeout can take it out again. */
export interface PendingRequestHolder {
  forget(request: PendingRequest): void;
}

export class PendingRequest implements LinkWaiter {
  readonly id: number;
  /** host:port of the peer, for error messages. */
  readonly peerKey: string;
  /** The encoded request frame; kept until it is queued on a connection. */
  frame: Buffer | null;
  /** The frame's sequence number on its connection's writer, 0 while not queued. */
  seq = 0;
  holder: PendingRequestHolder | null = null;
  timer: NodeJS.Timeout | undefined;
  settled = false;
  private readonly resolveFn: (value: unknown) => void;
  private readonly rejectFn: (err: Error) => void;

  constructor(
    id: number,
    peerKey: string,
    frame: Buffer,
    resolve: (value: unknown) => void,
    reject: (err: Error) => void,
  ) {
    this.id = id;
    this.peerKey = peerKey;
    this.frame = frame;
    this.resolveFn = resolve;
    this.rejectFn = reject;
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

  private finish(): void {
    this.settled = true;
    this.holder = null;
    this.frame = null;
    clearTimeout(this.timer);
  }
}
