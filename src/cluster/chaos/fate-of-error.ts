import { toShoalError } from '../../core/index.ts';

/**
 * What a failed call means for a history:
 * - `refused`: the store answered, and the operation did not apply (a version conflict, an
 *   update of an absent document); a compare-and-set that answers so completed, with `false`;
 * - `failed`: it surely never ran (never sent, refused before it reached the shard, bad input);
 * - `uncertain`: it may have run, now or later (a timeout, a connection lost after sending, an
 *   error the store gave no guarantee with).
 */
export type ErrorFate = 'refused' | 'failed' | 'uncertain';

/** Codes whose answer comes from a check made before anything is written. */
const NOTHING_RAN = new Set(['BAD_REQUEST', 'VALIDATION', 'PAYLOAD_TOO_LARGE', 'UNAUTHORIZED', 'RATE_LIMITED', 'CIRCUIT_OPEN']);

export function fateOfError(err: unknown): ErrorFate {
  const e = toShoalError(err);
  const details = (e.details ?? {}) as { sent?: unknown; uncertain?: unknown; redirect?: unknown };
  if (details.uncertain === true) return 'uncertain';
  if ((e.code === 'CONFLICT' && details.redirect !== true) || e.code === 'NOT_FOUND') return 'refused';
  if (e.code === 'UNAVAILABLE' && details.sent === false) return 'failed';
  if (details.redirect === true || NOTHING_RAN.has(e.code)) return 'failed';
  // TIMEOUT, UNAVAILABLE after sending, INTERNAL and anything unforeseen: it may have applied.
  return 'uncertain';
}
