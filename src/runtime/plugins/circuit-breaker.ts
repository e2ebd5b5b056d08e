import { ShoalError, toShoalError, type Plugin } from '../../core/index.ts';

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit. */
  failureThreshold?: number;
  /** How long an open circuit refuses before letting one trial request through. */
  openMs?: number;
  /** Milliseconds clock the open period is measured on (default Date.now); tests move it by hand. */
  now?: () => number;
}

type CircuitState = { kind: 'closed'; failures: number } | { kind: 'open'; until: number } | { kind: 'half-open'; trial: boolean };

/** The state of an endpoint with no recent failure; shared, since closed states are never mutated. */
const healthy: CircuitState = Object.freeze({ kind: 'closed', failures: 0 });

/** Failures that say the endpoint is unwell, as opposed to the caller's own mistakes. */
const endpointFailureCodes = new Set(['UNAVAILABLE', 'TIMEOUT']);

/**
 * One circuit per endpoint: after repeated failures the endpoint is skipped by the balancer
 * for a while, then probed with a single request. Errors a caller caused (VALIDATION,
 * NOT_FOUND…) say nothing about the endpoint's health and do not count.
 */
export function circuitBreakerPlugin(options: CircuitBreakerOptions = {}): Plugin {
  const failureThreshold = options.failureThreshold ?? 5;
  const openMs = options.openMs ?? 5_000;
  const now = options.now ?? Date.now;
  const circuits = new Map<string, CircuitState>();

  function current(endpointId: string): CircuitState {
    const state = circuits.get(endpointId);
    if (state?.kind === 'open' && now() >= state.until) {
      const halfOpen: CircuitState = { kind: 'half-open', trial: false };
      circuits.set(endpointId, halfOpen);
      return halfOpen;
    }
    return state ?? healthy;
  }

  return {
    name: 'shoal:circuit-breaker',
    endpointAvailable(endpointId) {
      const state = current(endpointId);
      return state.kind === 'closed' || (state.kind === 'half-open' && !state.trial);
    },
    // Not async: one .then() per attempt rather than an async frame and its promise.
    outboundAttempt(attempt, next) {
      if (attempt.local) return next(attempt);
      const id = attempt.endpointId;
      const state = current(id);
      if (state.kind === 'open' || (state.kind === 'half-open' && state.trial)) {
        return Promise.reject(new ShoalError('CIRCUIT_OPEN', `circuit to ${id} is open`, { endpoint: id, sent: false }));
      }
      if (state.kind === 'half-open') state.trial = true;
      let pending: Promise<unknown>;
      try {
        pending = next(attempt);
      } catch (err) {
        pending = Promise.reject(err);
      }
      return pending.then(
        (result) => {
          circuits.delete(id);
          return result;
        },
        (err: unknown) => {
          const error = toShoalError(err);
          if (endpointFailureCodes.has(error.code)) {
            const failures = state.kind === 'closed' ? state.failures + 1 : failureThreshold;
            circuits.set(id, failures >= failureThreshold ? { kind: 'open', until: now() + openMs } : { kind: 'closed', failures });
          }
          throw error;
        },
      );
    },
  };
}
