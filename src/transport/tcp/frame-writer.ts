/**
 * The send side of one socket: frames queued within a tick go out in one write, and while the
 * socket is congested frames wait here, in order, until it drains.
 */
import type { Socket } from 'node:net';

/** Above this, a batch is handed to the socket chunk by chunk rather than copied into one buffer. */
const MODE = process.env.FW_MODE ?? '';
const COALESCE_LIMIT_BYTES = 64 * 1024;

interface WriteWaiter {
  seq: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

export class FrameWriter {
  private readonly socket: Socket;
  private queue: Buffer[] = [];
  private queuedBytes = 0;
  private flushScheduled = false;
  private congested = false;
  private closed = false;
  private waiters: WriteWaiter[] = [];
  /** Sequence number of the last frame queued; frames are numbered from 1. */
  private lastQueuedSeq = 0;
  /** Sequence number of the last frame handed to the socket. */
  writtenSeq = 0;

  constructor(socket: Socket) {
    this.socket = socket;
    socket.on('drain', this.onDrain);
  }

  /** Queues a frame and returns its sequence number (compare with writtenSeq). */
  enqueue(frame: Buffer): number {
    if (MODE === 'first' && !this.flushScheduled && !this.congested && !this.closed) {
      this.flushScheduled = true;
      process.nextTick(this.flushNow);
      const seq = ++this.lastQueuedSeq;
      this.writtenSeq = seq;
      if (!this.socket.write(frame)) this.congested = true;
      return seq;
    }
    this.queue.push(frame);
    this.queuedBytes += frame.length;
    if (!this.flushScheduled && !this.congested) {
      this.flushScheduled = true;
      // nextTick runs after the current job and its promise reactions, so a burst of sends
      // (or of answers resolving together) leaves in a single write.
      process.nextTick(this.flushNow);
    }
    return ++this.lastQueuedSeq;
  }

  /** Queues a frame; resolves once the socket accepted it without being congested. */
  enqueueAndWait(frame: Buffer): Promise<void> {
    const seq = this.enqueue(frame);
    if (seq <= this.writtenSeq && !this.congested) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ seq, resolve, reject });
    });
  }

  /** Writes what is queued now rather than at the end of the tick. */
  flush(): void {
    if (this.closed || this.congested || this.queue.length === 0) return;
    const queue = this.queue;
    const bytes = this.queuedBytes;
    this.queue = [];
    this.queuedBytes = 0;
    let accepted: boolean;
    if (queue.length === 1) {
      accepted = this.socket.write(queue[0]);
    } else if (bytes <= COALESCE_LIMIT_BYTES) {
      accepted = this.socket.write(Buffer.concat(queue, bytes));
    } else {
      this.socket.cork();
      accepted = true;
      for (const frame of queue) accepted = this.socket.write(frame);
      this.socket.uncork();
    }
    this.writtenSeq = this.lastQueuedSeq;
    if (accepted) this.releaseWaiters();
    else this.congested = true;
  }

  /** Drops queued frames and rejects those waiting; sent tells whether a frame reached the socket. */
  fail(errorFor: (sent: boolean) => Error): void {
    this.closed = true;
    this.queue = [];
    this.queuedBytes = 0;
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter.reject(errorFor(waiter.seq <= this.writtenSeq));
  }

  private readonly flushNow = (): void => {
    this.flushScheduled = false;
    this.flush();
  };

  private readonly onDrain = (): void => {
    this.congested = false;
    this.releaseWaiters();
    this.flush();
  };

  private releaseWaiters(): void {
    if (this.waiters.length === 0) return;
    let released = 0;
    while (released < this.waiters.length && this.waiters[released].seq <= this.writtenSeq) {
      this.waiters[released].resolve();
      released++;
    }
    this.waiters.splice(0, released);
  }
}
