import { CircuitBreaker, ShoalError, toShoalError, type Plugin } from '../../core/index.ts';

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit. */
  failureThreshold?: number;
  /** How long an open circuit refuses before letting one trial request through. */
  openMs?: number;
  /** Milliseconds clock the open period is measured on (default Date.now); tests move it by hand. */
  now?: () => number;
}

/** Failures that say the endpoint is unwell, as opposed to the caller's own mistakes. */
const endpointFailureCodes = new Set(['UNAVAILABLE', 'TIMEOUT']);

/**
 * One circuit per endpoint: after repeated failures the endpoint is skipped by the balancer
 * for a while, then probed with a single request. Errors a caller caused (VALIDATION,
 * NOT_FOUND…) say nothing about the endpoint's health and do not count.
 */
export function circuitBreakerPlugin(options: CircuitBreakerOptions = {}): Plugin {
  const policy = { failureThreshold: options.failureThreshold ?? 5, openMs: options.openMs ?? 5_000 };
  const now = options.now ?? Date.now;
  // Only endpoints that failed have a circuit; a healthy call path looks one up and finds none.
  const circuits = new Map<string, CircuitBreaker>();

  return {
    name: 'shoal:circuit-breaker',
    endpointAvailable(endpointId) {
      return circuits.get(endpointId)?.available(now()) ?? true;
    },
    // Not async: one .then() per attempt rather than an async frame and its promise.
    outboundAttempt(attempt, next) {
      if (attempt.local) return next(attempt);
      const id = attempt.endpointId;
      const circuit = circuits.get(id);
      if (circuit && !circuit.admit(now())) {
        return Promise.reject(new ShoalError('CIRCUIT_OPEN', `circuit to ${id} is open`, { endpoint: id, sent: false }));
      }
      let pending: Promise<unknown>;
      try {
        pending = next(attempt);
      } catch (err) {
        pending = Promise.reject(err);
      }
      return pending.then(
        (result) => {
          if (circuit) circuits.delete(id);
          return result;
        },
        (err: unknown) => {
          const error = toShoalError(err);
          if (endpointFailureCodes.has(error.code)) {
            let failing = circuits.get(id);
            if (!failing) circuits.set(id, (failing = new CircuitBreaker(policy)));
            failing.failure(now());
          }
          throw error;
        },
      );
    },
  };
}
