import type { CircuitBreakerConfig } from './config-schema.ts';

export type CircuitState = 'closed' | 'open' | 'half-open';

/**
 * A circuit breaker for one upstream server. Consecutive connection failures or timeouts open
 * it: the server gets no requests for `openFor`, then one trial request decides whether it
 * closes again. Independently, `maxConcurrent` caps the requests in flight to the server.
 */
export class CircuitBreaker {
  #config: CircuitBreakerConfig;
  #state: CircuitState = 'closed';
  #failures = 0;
  #openedAtMs = 0;
  #trialInFlight = false;

  constructor(config: CircuitBreakerConfig) {
    this.#config = config;
  }

  configure(config: CircuitBreakerConfig): void {
    this.#config = config;
  }

  state(nowMs: number): CircuitState {
    if (this.#state === 'open' && nowMs - this.#openedAtMs >= this.#config.openFor) this.#state = 'half-open';
    return this.#state;
  }

  /** Whether a request may go to the server now; a half-open circuit admits one trial at a time. */
  admit(inFlight: number, nowMs: number): boolean {
    if (inFlight >= this.#config.maxConcurrent) return false;
    if (this.#state === 'closed') return true;
    if (this.state(nowMs) === 'open' || this.#trialInFlight) return false;
    this.#trialInFlight = true;
    return true;
  }

  /** The server answered. Returns true when this closed an open or half-open circuit. */
  success(): boolean {
    this.#failures = 0;
    this.#trialInFlight = false;
    if (this.#state === 'closed') return false;
    this.#state = 'closed';
    return true;
  }

  /** The server could not be reached or timed out. Returns true when this opened the circuit. */
  failure(nowMs: number): boolean {
    this.#failures++;
    const wasTrial = this.#trialInFlight;
    this.#trialInFlight = false;
    if (this.#state === 'open') return false;
    if (wasTrial || this.#state === 'half-open' || this.#failures >= this.#config.consecutiveFailures) {
      this.#state = 'open';
      this.#openedAtMs = nowMs;
      return true;
    }
    return false;
  }
}
