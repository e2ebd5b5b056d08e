/**
 * A token bucket: `ratePerSecond` tokens flow in, up to `burst`; a request takes one. Time is
 * passed in by the caller so a limiter handling many buckets reads the clock once per request
 * and tests can drive time.
 */
export class TokenBucket {
  readonly ratePerSecond: number;
  readonly burst: number;
  #tokens: number;
  #updatedMs: number;

  constructor(ratePerSecond: number, burst: number, nowMs: number) {
    this.ratePerSecond = ratePerSecond;
    this.burst = burst;
    this.#tokens = burst;
    this.#updatedMs = nowMs;
  }

  #refill(nowMs: number): void {
    const elapsed = nowMs - this.#updatedMs;
    if (elapsed > 0) {
      this.#tokens = Math.min(this.burst, this.#tokens + (elapsed * this.ratePerSecond) / 1000);
      this.#updatedMs = nowMs;
    }
  }

  /** Takes a token; 0 when granted, otherwise the milliseconds until one is available. */
  take(nowMs: number): number {
    this.#refill(nowMs);
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.#tokens) * 1000) / this.ratePerSecond);
  }

  /** True when the bucket has refilled completely, so forgetting it changes nothing. */
  isFull(nowMs: number): boolean {
    this.#refill(nowMs);
    return this.#tokens >= this.burst;
  }
}
