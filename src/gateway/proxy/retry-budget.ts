import type { RetryConfig } from './config-schema.ts';

const BUCKETS = 10;
const BUCKET_MS = 1000;

/**
 * A retry budget in the manner of Finagle and Envoy: over the last ten seconds, retries may be
 * at most `budgetRatio` of requests plus `minPerSecond` each second. When a server fails, this
 * keeps retries from multiplying the load on the ones left.
 */
export class RetryBudget {
  readonly #ratio: number;
  readonly #minPerWindow: number;
  readonly #requests = new Float64Array(BUCKETS);
  readonly #retries = new Float64Array(BUCKETS);
  #bucketStartMs = 0;
  #index = 0;

  constructor(config: Pick<RetryConfig, 'budgetRatio' | 'minPerSecond'>) {
    this.#ratio = config.budgetRatio;
    this.#minPerWindow = (config.minPerSecond * BUCKETS * BUCKET_MS) / 1000;
  }

  #advance(nowMs: number): void {
    if (nowMs - this.#bucketStartMs < BUCKET_MS) return;
    const steps = Math.min(BUCKETS, Math.floor((nowMs - this.#bucketStartMs) / BUCKET_MS));
    for (let i = 0; i < steps; i++) {
      this.#index = (this.#index + 1) % BUCKETS;
      this.#requests[this.#index] = 0;
      this.#retries[this.#index] = 0;
    }
    this.#bucketStartMs = nowMs - ((nowMs - this.#bucketStartMs) % BUCKET_MS);
  }

  /** A first try was sent. */
  recordRequest(nowMs: number): void {
    this.#advance(nowMs);
    this.#requests[this.#index]++;
  }

  /** Whether the budget would grant a retry now; spends nothing. */
  allows(nowMs: number): boolean {
    this.#advance(nowMs);
    let requests = 0;
    let retries = 0;
    for (let i = 0; i < BUCKETS; i++) {
      requests += this.#requests[i];
      retries += this.#retries[i];
    }
    return retries + 1 <= this.#minPerWindow + this.#ratio * requests;
  }

  /** Records a retry that was granted. */
  spend(nowMs: number): void {
    this.#advance(nowMs);
    this.#retries[this.#index]++;
  }

  /** Spends one retry when the budget allows it. */
  tryRetry(nowMs: number): boolean {
    if (!this.allows(nowMs)) return false;
    this.spend(nowMs);
    return true;
  }
}
