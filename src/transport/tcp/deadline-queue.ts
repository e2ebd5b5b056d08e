/**
 * Timeouts of outbound requests, with one timer for all of them. A timer per request costs an
 * allocation plus an insert and a removal in Node's timer lists on every call; here a request
 * is an entry in a binary heap ordered by deadline, and the one timer is armed for the earliest.
 */

/** Something with a deadline that the queue can expire. */
export interface Expirable {
  /** performance.now() value at which it expires. */
  deadline: number;
  /** Position in the heap, -1 while not queued; owned by the queue. */
  heapIndex: number;
  expire(): void;
}

/** setTimeout fires at once above this, so longer delays are re-armed in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class DeadlineQueue<T extends Expirable> {
  private readonly heap: T[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** When the armed timer fires; Infinity while none is armed. */
  private armedAt = Infinity;

  add(item: T): void {
    const heap = this.heap;
    item.heapIndex = heap.length;
    heap.push(item);
    this.up(item.heapIndex);
    if (item.deadline < this.armedAt) this.arm(item.deadline);
  }

  /** Takes an item out (it settled); the timer stays armed and finds nothing due if it was the earliest. */
  remove(item: T): void {
    const at = item.heapIndex;
    if (at < 0) return;
    item.heapIndex = -1;
    const heap = this.heap;
    const last = heap.pop()!;
    if (at < heap.length) {
      heap[at] = last;
      last.heapIndex = at;
      this.down(at);
      this.up(last.heapIndex);
    }
    if (heap.length === 0) this.disarm();
  }

  private arm(deadline: number): void {
    clearTimeout(this.timer);
    this.armedAt = deadline;
    const delay = Math.min(Math.max(Math.ceil(deadline - performance.now()), 1), MAX_TIMER_MS);
    this.timer = setTimeout(this.onTimer, delay);
  }

  private disarm(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.armedAt = Infinity;
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.armedAt = Infinity;
    const now = performance.now();
    const heap = this.heap;
    while (heap.length > 0 && heap[0].deadline <= now) {
      const item = heap[0];
      this.remove(item);
      item.expire();
    }
    // expire() may have added items and armed the timer already.
    if (heap.length > 0 && heap[0].deadline < this.armedAt) this.arm(heap[0].deadline);
  };

  private up(at: number): void {
    const heap = this.heap;
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

  private down(at: number): void {
    const heap = this.heap;
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
