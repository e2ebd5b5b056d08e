/**
 * Timeouts of outbound requests, with one timer for all of them. A timer per request costs an
 * allocation plus an insert and a removal in Node's timer lists on every call; here a request
 * is an entry in a binary heap ordered by deadline, and the one timer is armed for the earliest.
 */

/** Something with a deadline that the queue can expire. */
export interface Expirable {
  /** The queue clock's now() (performance.now() unless one is injected) at which it expires. */
  deadline: number;
  /** Position in the heap, -1 while not queued; owned by the queue. */
  heapIndex: number;
  expire(): void;
}

/**
 * The time source and the one timer, injectable so tests can move time by hand. `now()` must
 * be the clock deadlines are computed from (monotonic milliseconds).
 */
export interface DeadlineClock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realClock: DeadlineClock = {
  now: () => performance.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout | undefined),
};

/** setTimeout fires at once above this, so longer delays are re-armed in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class DeadlineQueue<T extends Expirable> {
  readonly #heap: T[] = [];
  readonly #clock: DeadlineClock;
  #timer: unknown;
  /** When the armed timer fires; Infinity while none is armed. */
  #armedAt = Infinity;

  constructor(clock: DeadlineClock = realClock) {
    this.#clock = clock;
  }

  add(item: T): void {
    const heap = this.#heap;
    item.heapIndex = heap.length;
    heap.push(item);
    this.#up(item.heapIndex);
    if (item.deadline < this.#armedAt) this.#arm(item.deadline);
  }

  /** Takes an item out (it settled); the timer stays armed and finds nothing due if it was the earliest. */
  remove(item: T): void {
    const at = item.heapIndex;
    if (at < 0) return;
    item.heapIndex = -1;
    const heap = this.#heap;
    const last = heap.pop()!;
    if (at < heap.length) {
      heap[at] = last;
      last.heapIndex = at;
      this.#down(at);
      this.#up(last.heapIndex);
    }
    if (heap.length === 0) this.#disarm();
  }

  #arm(deadline: number): void {
    this.#clock.clearTimeout(this.#timer);
    this.#armedAt = deadline;
    const delay = Math.min(Math.max(Math.ceil(deadline - this.#clock.now()), 1), MAX_TIMER_MS);
    this.#timer = this.#clock.setTimeout(this.#onTimer, delay);
  }

  #disarm(): void {
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedAt = Infinity;
  }

  readonly #onTimer = (): void => {
    this.#timer = undefined;
    this.#armedAt = Infinity;
    const now = this.#clock.now();
    const heap = this.#heap;
    while (heap.length > 0 && heap[0].deadline <= now) {
      const item = heap[0];
      this.remove(item);
      item.expire();
    }
    // expire() may have added items and armed the timer already.
    if (heap.length > 0 && heap[0].deadline < this.#armedAt) this.#arm(heap[0].deadline);
  };

  #up(at: number): void {
    const heap = this.#heap;
    const item = heap[at];
    while (at > 0) {
      const parentAt = (at - 1) >> 1;
      const parent = heap[parentAt];
      if (parent.deadline <= item.deadline) break;
      heap[at] = parent;
      parent.heapIndex = at;
      at = parentAt;
    }
    heap[at] = item;
    item.heapIndex = at;
  }

  #down(at: number): void {
    const heap = this.#heap;
    const item = heap[at];
    const length = heap.length;
    for (;;) {
      const leftAt = 2 * at + 1;
      if (leftAt >= length) break;
      const rightAt = leftAt + 1;
      const childAt = rightAt < length && heap[rightAt].deadline < heap[leftAt].deadline ? rightAt : leftAt;
      const child = heap[childAt];
      if (child.deadline >= item.deadline) break;
      heap[at] = child;
      child.heapIndex = at;
      at = childAt;
    }
    heap[at] = item;
    item.heapIndex = at;
  }
}
