import { CircuitBreaker, type CircuitState } from '../../core/index.ts';
import type { CircuitBreakerConfig } from './config-schema.ts';

export type { CircuitState };

function policyOf(config: CircuitBreakerConfig) {
  return { failureThreshold: config.consecutiveFailures, openMs: config.openFor };
}

/**
 * The lb's breaker for one upstream server: the shared circuit state machine, plus
 * `maxConcurrent`, a cap on the requests in flight to the server that holds whatever the
 * circuit's state.
 */
export class UpstreamCircuit {
  readonly #circuit: CircuitBreaker;
  #maxConcurrent: number;

  constructor(config: CircuitBreakerConfig) {
    this.#circuit = new CircuitBreaker(policyOf(config));
    this.#maxConcurrent = config.maxConcurrent;
  }

  configure(config: CircuitBreakerConfig): void {
    this.#circuit.configure(policyOf(config));
    this.#maxConcurrent = config.maxConcurrent;
  }

  state(nowMs: number): CircuitState {
    return this.#circuit.state(nowMs);
  }

  /** Whether a request may go to the server now; a half-open circuit admits one trial at a time. */
  admit(inFlight: number, nowMs: number): boolean {
    return inFlight < this.#maxConcurrent && this.#circuit.admit(nowMs);
  }

  /** The server answered. Returns true when this closed an open or half-open circuit. */
  success(): boolean {
    return this.#circuit.success();
  }

  /** The server could not be reached or timed out. Returns true when this opened the circuit. */
  failure(nowMs: number): boolean {
    return this.#circuit.failure(nowMs);
  }
}
