import type { RateLimitConfig } from './config-schema.ts';
import { TokenBucket } from './token-bucket.ts';

/** Buckets kept before full ones are forgotten; bounds memory under a flood of distinct keys. */
const SWEEP_AT = 50_000;

/**
 * Token-bucket rate limiting per client address or per API key header. Full buckets carry
 * no information, so they are dropped when the table grows; a key seen again starts full.
 */
export class RateLimiter {
  readonly config: RateLimitConfig;
  readonly #burst: number;
  readonly #buckets = new Map<string, TokenBucket>();

  constructor(config: RateLimitConfig) {
    this.config = config;
    this.#burst = config.burst ?? Math.max(1, Math.ceil(config.ratePerSecond));
  }

  /** The key a request is counted under, given the configured header's value. */
  keyOf(headerValue: string | undefined, clientIp: string): string {
    if (this.config.by === 'header' && headerValue !== undefined && headerValue !== '') return `k:${headerValue}`;
    return `a:${clientIp}`;
  }

  /** 0 when the request may pass, otherwise the milliseconds until it would. */
  take(key: string, nowMs: number): number {
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      if (this.#buckets.size >= SWEEP_AT) this.#sweep(nowMs);
      bucket = new TokenBucket(this.config.ratePerSecond, this.#burst, nowMs);
      this.#buckets.set(key, bucket);
    }
    return bucket.take(nowMs);
  }

  get size(): number {
    return this.#buckets.size;
  }

  #sweep(nowMs: number): void {
    for (const [key, bucket] of this.#buckets) if (bucket.isFull(nowMs)) this.#buckets.delete(key);
    // Every bucket busy (a flood of distinct keys): start over rather than grow without bound.
    if (this.#buckets.size >= SWEEP_AT) this.#buckets.clear();
  }
}
