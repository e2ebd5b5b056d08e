import { ShoalError, toShoalError, type Plugin } from '../../core/index.ts';

export interface RetryOptions {
  /** Total attempts including the first. */
  maxAttempts?: number;
}

/**
 * Retries a failed attempt on another endpoint when that cannot run the action twice: the
 * action is declared idempotent, or the request never left this process (details.sent false),
 * or a circuit breaker refused it locally. The endpoint that failed is already in call.exclude.
 */
export function retryPlugin(options: RetryOptions = {}): Plugin {
  const maxAttempts = options.maxAttempts ?? 3;
  return {
    name: 'retry',
    async outboundCall(call, next) {
      // Counted here, not from call.attempts: a try that found no endpoint never reaches one.
      for (let tries = 1; ; tries++) {
        try {
          return await next(call);
        } catch (err) {
          const error = toShoalError(err);
          if (!shouldRetry(error, call.idempotent) || tries >= maxAttempts) throw error;
          if (call.meta.deadline !== undefined && Date.now() >= call.meta.deadline) throw error;
        }
      }
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
