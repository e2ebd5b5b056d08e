import type { RateLimitConfig } from './proxy/config-schema.ts';

/** A rate limit from a shoal.config.ts with the same defaults `shoal lb` applies to its own. */
export function rateLimitConfig(input: { ratePerSecond: number; burst?: number; by?: 'client-ip' | 'header'; header?: string }): RateLimitConfig {
  if (!(input.ratePerSecond > 0) || !Number.isFinite(input.ratePerSecond)) throw new Error('gateway.rateLimit.ratePerSecond must be a positive number');
  return {
    ratePerSecond: input.ratePerSecond,
    ...(input.burst !== undefined ? { burst: input.burst } : {}),
    by: input.by ?? 'client-ip',
    header: (input.header ?? 'x-api-key').toLowerCase(),
  };
}
