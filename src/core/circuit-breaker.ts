export type CircuitState = 'closed' | 'open' | 'half-open';

export interface CircuitPolicy {
  /** Consecutive failures that open the circuit. */
  failureThreshold: number;
  /** How long an open circuit refuses before it lets one trial request through. */
  openMs: number;
}

/**
 * The circuit breaker state machine, one per endpoint or upstream server, for RPC and for
 * `shoal lb` alike. Consecutive failures open it: nothing is sent for `openMs`, then a single
 * trial decides whether it closes again or stays open for another period. Time is passed in,
 * so callers use their own clock (and tests a manual one).
 */
export class CircuitBreaker {
  #policy: CircuitPolicy;
  #state: CircuitState = 'closed';
  #failures = 0;
  #openedAtMs = 0;
  #trialInFlight = false;

  constructor(policy: CircuitPolicy) {
    this.#policy = policy;
  }

  /** Takes new thresholds (a reloaded config); the current state stays. */
  configure(policy: CircuitPolicy): void {
    this.#policy = policy;
  }

  state(nowMs: number): CircuitState {
    if (this.#state === 'open' && nowMs - this.#openedAtMs >= this.#policy.openMs) this.#state = 'half-open';
    return this.#state;
  }

  /** Whether a request could go now, without taking the half-open circuit's one trial. */
  available(nowMs: number): boolean {
    const state = this.state(nowMs);
    return state === 'closed' || (state === 'half-open' && !this.#trialInFlight);
  }

  /** Whether a request may go now; a half-open circuit admits one trial at a time. */
  admit(nowMs: number): boolean {
    if (this.#state === 'closed') return true;
    if (this.state(nowMs) === 'open' || this.#trialInFlight) return false;
    this.#trialInFlight = true;
    return true;
  }

  /** The endpoint answered. Returns true when this closed an open or half-open circuit. */
  success(): boolean {
    this.#failures = 0;
    this.#trialInFlight = false;
    if (this.#state === 'closed') return false;
    this.#state = 'closed';
    return true;
  }

  /** The endpoint could not be reached or timed out. Returns true when this opened the circuit. */
  failure(nowMs: number): boolean {
    this.#failures++;
    const wasTrial = this.#trialInFlight;
    this.#trialInFlight = false;
    if (this.#state === 'open') return false;
    if (wasTrial || this.#state === 'half-open' || this.#failures >= this.#policy.failureThreshold) {
      this.#state = 'open';
      this.#openedAtMs = nowMs;
      return true;
    }
    return false;
  }
}
