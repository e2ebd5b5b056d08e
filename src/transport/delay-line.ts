/**
 * Messages to one peer held back by injected latency, released in the order they were queued.
 * A slow link delays, it does not reorder: a one-way message must still arrive ahead of a
 * request sent after it, so a message is released no earlier than its own delay and never
 * before the ones queued ahead of it, whatever jitter each drew. One timer for the whole line.
 */
import type { FaultClock } from './fault-plan.ts';

interface Held {
  at: number;
  release(): void;
  cancel(): void;
}

export class DelayLine {
  readonly #clock: FaultClock;
  readonly #onEmpty: () => void;
  #held: Held[] = [];
  #head = 0;
  #timer: unknown;

  /** `onEmpty` runs each time the last held message leaves. */
  constructor(clock: FaultClock, onEmpty: () => void) {
    this.#clock = clock;
    this.#onEmpty = onEmpty;
  }

  /** Messages still held. */
  get size(): number {
    return this.#held.length - this.#head;
  }

  /** Calls `release` once `delayMs` have passed and every message queued before it has left. */
  push(delayMs: number, release: () => void, cancel: () => void): void {
    const now = this.#clock.now();
    const last = this.size > 0 ? this.#held[this.#held.length - 1].at : now;
    this.#held.push({ at: Math.max(now + delayMs, last), release, cancel });
    if (this.size === 1) this.#arm(now);
  }

  /** Drops every held message, calling its `cancel`. */
  cancelAll(): void {
    const held = this.#held.slice(this.#head);
    this.#reset();
    for (const item of held) item.cancel();
  }

  #arm(now: number): void {
    this.#timer = this.#clock.setTimeout(this.#fire, Math.max(0, Math.ceil(this.#held[this.#head].at - now)));
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    const now = this.#clock.now();
    while (this.size > 0 && this.#held[this.#head].at <= now) {
      const item = this.#held[this.#head];
      this.#head++;
      item.release();
    }
    if (this.size > 0) {
      if (this.#timer === undefined) this.#arm(now);
      return;
    }
    this.#reset();
    this.#onEmpty();
  };

  #reset(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#held = [];
    this.#head = 0;
  }
}
