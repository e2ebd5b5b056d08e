/**
 * The send side of one socket: frames queued within a tick go out in one write, and while the
 * socket is congested frames wait here, in order, until it drains.
 *
 * A burst is split every BURST_FRAMES frames, though. Sent as one write, a burst is processed by
 * the peer only once all of it was produced here, and its answers come back the same way, so
 * the two processes take turns instead of working at once; sent in parts, the peer starts on
 * the first part while this side still produces the rest.
 */
import type { Socket } from 'node:net';

/** Frames queued in one tick before they are written without waiting for the tick to end. */
const BURST_FRAMES = 32;
/** Above this, a batch is handed to the socket chunk by chunk rather than copied into one buffer. */
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
    this.queue.push(frame);
    this.queuedBytes += frame.length;
    const seq = ++this.lastQueuedSeq;
    if (this.queue.length >= BURST_FRAMES) {
      this.flush();
    } else if (!this.flushScheduled && !this.congested) {
      this.flushScheduled = true;
      // nextTick runs after the current job and its promise reactions, so a burst of sends
      // (or of answers resolving together) leaves in a single write.
      process.nextTick(this.flushNow);
    }
    return seq;
  }

  /** Queues a frame; resolves once the socket accepted it without being congested. */
  enqueueAndWait(frame: Buffer): Promise<void> {
    const seq = this.enqueue(frame);
    // A burst may have been written at once, while this frame was queued.
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
