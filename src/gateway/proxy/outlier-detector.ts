import type { OutlierConfig } from './config-schema.ts';

/**
 * Passive outlier detection for one server: consecutive failures (5xx answers, connection
 * failures, timeouts) eject it for baseEjection × the number of times it has been ejected,
 * capped at maxEjection. Whether an ejection may happen at all (the pool's ejected share) is
 * the pool's decision, passed in as `allowed`.
 */
export class OutlierDetector {
  #config: OutlierConfig;
  #consecutive = 0;
  #ejections = 0;
  #ejectedUntilMs = 0;

  constructor(config: OutlierConfig) {
    this.#config = config;
  }

  configure(config: OutlierConfig): void {
    this.#config = config;
  }

  get ejectionCount(): number {
    return this.#ejections;
  }

  isEjected(nowMs: number): boolean {
    return nowMs < this.#ejectedUntilMs;
  }

  ejectedUntil(): number {
    return this.#ejectedUntilMs;
  }

  /** How long the next ejection would last. */
  nextEjectionMs(): number {
    return Math.min(this.#config.baseEjection * (this.#ejections + 1), this.#config.maxEjection);
  }

  success(): void {
    this.#consecutive = 0;
  }

  /**
   * Counts a failure; returns the ejection's duration in ms when this ejects the server, else 0.
   * `allowed` is false when the pool already has its maximum share of servers ejected.
   */
  failure(nowMs: number, allowed: boolean): number {
    if (this.isEjected(nowMs)) return 0;
    this.#consecutive++;
    if (this.#consecutive < this.#config.consecutiveFailures || !allowed) return 0;
    const duration = this.nextEjectionMs();
    this.#ejections++;
    this.#consecutive = 0;
    this.#ejectedUntilMs = nowMs + duration;
    return duration;
  }
}

/** How many of `total` servers may be ejected at once: never all, whatever the percentage. */
export function maxEjectable(total: number, maxEjectedPercent: number): number {
  return Math.min(total - 1, Math.floor((total * maxEjectedPercent) / 100));
}
