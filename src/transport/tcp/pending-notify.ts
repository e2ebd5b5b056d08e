/**
 * A one-way message waiting for its peer's connection. A message has no timeout of its own, so
 * it waits at most the transport's connect timeout before failing as UNAVAILABLE.
 */
import { type ShoalError } from '../../core/index.ts';
import type { Connection } from './connection.ts';
import type { LinkWaiter } from './outbound-link.ts';

export class PendingNotify implements LinkWaiter {
  private readonly frame: Buffer;
  private readonly resolve: () => void;
  private readonly reject: (err: Error) => void;
  timer: NodeJS.Timeout | undefined;

  constructor(frame: Buffer, resolve: () => void, reject: (err: Error) => void) {
    this.frame = frame;
    this.resolve = resolve;
    this.reject = reject;
  }

  onConnected(connection: Connection): void {
    clearTimeout(this.timer);
    // Queued synchronously, so it keeps its place relative to requests waiting on the same link.
    connection.sendNotify(this.frame).then(this.resolve, this.reject);
  }

  onConnectFailed(error: ShoalError): void {
    clearTimeout(this.timer);
    this.reject(error);
  }
}
