export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /** A process that stayed up this long is considered recovered: its next crash starts over. */
  resetAfterMs: number;
}

export const defaultBackoff: BackoffOptions = { initialMs: 500, maxMs: 10_000, resetAfterMs: 30_000 };

/**
 * Restart delays that double while a process keeps crashing soon after starting, so a process
 * that cannot start does not spin the machine, while one that crashes rarely restarts at once.
 */
export class RestartBackoff {
  readonly #options: BackoffOptions;
  #failures = 0;

  constructor(options: BackoffOptions = defaultBackoff) {
    this.#options = options;
  }

  /** The delay before the next restart of a process that ran for `uptimeMs`. */
  next(uptimeMs: number): number {
    if (uptimeMs >= this.#options.resetAfterMs) this.#failures = 0;
    const delay = Math.min(this.#options.initialMs * 2 ** this.#failures, this.#options.maxMs);
    this.#failures += 1;
    return delay;
  }
}
