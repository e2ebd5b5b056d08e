export interface BackoffPolicy {
  /** The first delay. */
  initialMs: number;
  /** No delay is longer than this. */
  maxMs: number;
  /** How much each failure grows the next delay (default 2). */
  factor?: number;
}

/**
 * Exponential backoff: the delay before each retry grows by `factor` up to `maxMs`, and starts
 * over after a success. Every retry loop of the project (reconnects, watch polls, probes,
 * re-registration, process restarts) takes its delays from one of these, so none spins.
 */
export class Backoff {
  readonly #policy: Required<BackoffPolicy>;
  #failures = 0;

  constructor(policy: BackoffPolicy) {
    if (!(policy.initialMs >= 0) || !(policy.maxMs >= policy.initialMs)) {
      throw new RangeError(`backoff needs 0 <= initialMs <= maxMs, got ${policy.initialMs} and ${policy.maxMs}`);
    }
    this.#policy = { factor: 2, ...policy };
  }

  /** The delay to wait before the next attempt; each call makes the one after longer. */
  next(): number {
    const { initialMs, maxMs, factor } = this.#policy;
    const delay = Math.min(initialMs * factor ** this.#failures, maxMs);
    // Past the cap the count stops growing, so it never overflows into Infinity or NaN.
    if (delay < maxMs) this.#failures += 1;
    return delay;
  }

  /** After a success: the next delay is the first one again. */
  reset(): void {
    this.#failures = 0;
  }

  /** Failures since the last reset (stops counting once the delay reached its cap). */
  get failures(): number {
    return this.#failures;
  }
}
