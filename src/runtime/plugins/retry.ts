import { ShoalError, toShoalError, wallClockMs, type Plugin } from '../../core/index.ts';

export interface RetryOptions {
  /** Total attempts including the first. */
  maxAttempts?: number;
}

/**
 * Retries a failed attempt on another endpoint when that cannot run the action twice: the
 * action is declared idempotent, or the request never left this process (details.sent false),
 * or a circuit breaker refused it locally. The broker has already added the endpoint that
 * failed to call.exclude, so handing on the same call tries another. It stops at the call's
 * deadline, which is why it needs the timeout plugin: without one a retrying call could outlive
 * its caller.
 */
export function retryPlugin(options: RetryOptions = {}): Plugin {
  const maxAttempts = options.maxAttempts ?? 3;
  return {
    name: 'shoal:retry',
    dependencies: ['shoal:timeout'],
    // Not async: the first attempt costs one .then(); only a failure builds the next try.
    outboundCall(call, next) {
      // Counted here, not from call.attempts: a try that found no endpoint never reaches one.
      const attempt = (tries: number): Promise<unknown> => {
        let pending: Promise<unknown>;
        try {
          pending = next(call);
        } catch (err) {
          pending = Promise.reject(err);
        }
        return pending.then(undefined, (err: unknown) => {
          const error = toShoalError(err);
          if (!shouldRetry(error, call.idempotent) || tries >= maxAttempts) throw error;
          if (call.meta.deadline !== undefined && wallClockMs() >= call.meta.deadline) throw error;
          return attempt(tries + 1);
        });
      };
      return attempt(1);
    },
  };
}

function shouldRetry(error: ShoalError, idempotent: boolean): boolean {
  if (!error.retryable) return false;
  if ((error.details as { exhausted?: unknown } | undefined)?.exhausted === true) return false;
  if (error.code === 'CIRCUIT_OPEN') return true;
  const sent = (error.details as { sent?: unknown } | undefined)?.sent;
  if (error.code === 'UNAVAILABLE' && sent === false) return true;
  return idempotent;
}
