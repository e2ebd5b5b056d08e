/**
 * A clock that moves only when the test says so, with timers that fire as it passes their
 * time: code under test that takes a clock runs the same steps on any machine, at any load.
 */
interface ManualTimer {
  at: number;
  seq: number;
  callback: () => void;
}

export class ManualClock {
  #now: number;
  #seq = 0;
  readonly #timers = new Map<number, ManualTimer>();

  constructor(startMs = 0) {
    this.#now = startMs;
  }

  /** Bound, so it can be handed over as a `now` option. */
  readonly now = (): number => this.#now;

  readonly setTimeout = (callback: () => void, ms: number): number => {
    const seq = ++this.#seq;
    this.#timers.set(seq, { at: this.#now + Math.max(ms, 0), seq, callback });
    return seq;
  };

  readonly clearTimeout = (handle: unknown): void => {
    if (typeof handle === 'number') this.#timers.delete(handle);
  };

  /** Timers not yet fired. */
  get pendingTimers(): number {
    return this.#timers.size;
  }

  /**
   * Moves time forward by `ms`, firing each timer due on the way at its own time, in time
   * order (then in the order set); timers set by a callback fire too if they fall due.
   */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      let next: ManualTimer | undefined;
      for (const timer of this.#timers.values()) {
        if (timer.at <= target && (next === undefined || timer.at < next.at || (timer.at === next.at && timer.seq < next.seq))) next = timer;
      }
      if (next === undefined) break;
      this.#timers.delete(next.seq);
      this.#now = Math.max(this.#now, next.at);
      next.callback();
    }
    this.#now = target;
  }
}
