/** Share of its weight a server gets the moment it comes back. */
export const SLOW_START_FLOOR = 0.1;
/** Weights move in steps of 1/STEPS of the full weight, so strategies that cache weights rebuild rarely. */
const STEPS = 20;

/**
 * The weight factor of a server `sinceMs` after it came back, ramping linearly from 10% to
 * 100% over `durationMs` (HAProxy's and Envoy's slow start), in 5% steps.
 */
export function slowStartFactor(sinceMs: number, durationMs: number): number {
  if (durationMs <= 0 || sinceMs >= durationMs) return 1;
  if (sinceMs <= 0) return SLOW_START_FLOOR;
  const linear = SLOW_START_FLOOR + ((1 - SLOW_START_FLOOR) * sinceMs) / durationMs;
  return Math.min(1, Math.max(SLOW_START_FLOOR, Math.floor(linear * STEPS) / STEPS));
}
