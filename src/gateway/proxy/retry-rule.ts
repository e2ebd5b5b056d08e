/**
 * Whether a failed try may go to another server, as a pure function of what the exchange knows
 * when the try fails, so each condition can be tested alone. Only failures before the answer
 * started reach it; the kind of failure (connect, reset, timeout) does not change the answer,
 * because a request that reached a server may have had its effect whatever broke afterwards.
 */

/** Methods a retry cannot harm: repeating them has the effect of sending them once. */
const idempotentMethods = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);

export function isIdempotent(method: string): boolean {
  return idempotentMethods.has(method);
}

/** What the exchange knows about a try that failed. */
export interface FailedTry {
  readonly method: string;
  readonly hasBody: boolean;
  /** Every body byte sent so far is still at hand (bodies past the replay limit are not). */
  readonly bodyReplayable: boolean;
  /** A byte of an answer (interim or final) already went to the client. */
  readonly answered: boolean;
  /** Tries made so far, the failed one included. */
  readonly tries: number;
  /** Retries allowed after the first try. */
  readonly maxRetries: number;
  readonly nowMs: number;
  /** When the request's total timeout runs out. */
  readonly deadlineMs: number;
  readonly clientGone: boolean;
  /** Eligible servers this request has not failed on yet. */
  readonly serversLeft: number;
  /** The backend's retry budget would grant one more retry now. */
  readonly budgetLeft: boolean;
}

/** `retry`, or the first reason not to, in the order the conditions are checked. */
export type RetryVerdict =
  | 'retry'
  | 'not-idempotent'
  | 'body-not-replayable'
  | 'answered'
  | 'no-retries-left'
  | 'past-deadline'
  | 'client-gone'
  | 'no-other-server'
  | 'budget-spent';

export function retryVerdict(failed: FailedTry): RetryVerdict {
  if (!isIdempotent(failed.method)) return 'not-idempotent';
  if (failed.hasBody && !failed.bodyReplayable) return 'body-not-replayable';
  if (failed.answered) return 'answered';
  if (failed.tries > failed.maxRetries) return 'no-retries-left';
  if (failed.nowMs >= failed.deadlineMs) return 'past-deadline';
  if (failed.clientGone) return 'client-gone';
  if (failed.serversLeft <= 0) return 'no-other-server';
  // Last, since granting a retry spends from the budget.
  if (!failed.budgetLeft) return 'budget-spent';
  return 'retry';
}

/** How long one try may take: the per-try timeout, cut to what is left of the total (at least 1 ms). */
export function tryTimeoutMs(tryMs: number, deadlineMs: number, nowMs: number): number {
  return Math.max(1, Math.min(tryMs, deadlineMs - nowMs));
}
