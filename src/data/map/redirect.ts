import { ShoalError, toShoalError } from '../../core/index.ts';

/**
 * A node refuses an operation on a slot it does not own (in its own, newest map) with a
 * redirect: CONFLICT with `details.redirect`, carrying the node's map version, so the router
 * refreshes to at least that version and sends the operation where the slot lives now. The
 * operation did not run, so repeating it is always safe.
 */
export function redirectError(what: string, mapVersion: number): ShoalError {
  return new ShoalError('CONFLICT', `${what} is not served here at map version ${mapVersion}; refresh the shard map`, { redirect: true, mapVersion });
}

export function redirectOf(err: unknown): { mapVersion: number } | undefined {
  const e = toShoalError(err);
  const details = e.details as { redirect?: unknown; mapVersion?: unknown } | undefined;
  if (e.code === 'CONFLICT' && details?.redirect === true) return { mapVersion: Number(details.mapVersion) || 0 };
  return undefined;
}

/** A slot being switched to another shard refuses writes for a moment; the write did not run. */
export function fencedError(slot: number): ShoalError {
  return new ShoalError('UNAVAILABLE', `slot ${slot} is moving to another shard; retry shortly`, { fenced: true, slot, sent: false });
}

/** True when the operation surely did not run, so it may be sent again (after a map refresh). */
export function notApplied(err: unknown): boolean {
  const e = toShoalError(err);
  const details = e.details as { sent?: unknown; fenced?: unknown } | undefined;
  return redirectOf(e) !== undefined || (e.code === 'UNAVAILABLE' && (details?.sent === false || details?.fenced === true)) || e.code === 'CIRCUIT_OPEN';
}
