/**
 * The standalone reverse-proxy load balancer (`shoal lb`): listeners, backends of upstream
 * servers behind a balancing strategy, health checks, retries, rate limits and reloads.
 */
export { configFromFlags, type LbFlags } from './config-flags.ts';
export { ConfigError, loadConfigFile, parseConfigText, validateConfig, type ConfigProblem } from './config-load.ts';
export { algorithmNames, lbConfigSchema, parseAddress, parseDuration } from './config-schema.ts';
export type { BackendConfig, HostPort, LbConfig, LbConfigInput, ListenerConfig } from './config-schema.ts';
export { createLbMetrics, noopMetrics, type LbMetrics } from './lb-metrics.ts';
export type { LbRunOptions } from './lb-process.ts';
export { LoadBalancer, type ListenerAddress, type LoadBalancerOptions } from './load-balancer.ts';
export { runLoadBalancer, workerCount } from './run.ts';
// Building blocks, exported for their unit tests and for the cluster gateway.
export { UpstreamCircuit, type CircuitState } from './circuit-breaker.ts';
export { maxEjectable, OutlierDetector } from './outlier-detector.ts';
export { RateLimiter } from './rate-limiter.ts';
export { RetryBudget } from './retry-budget.ts';
export { SLOW_START_FLOOR, slowStartFactor } from './slow-start.ts';
export { TokenBucket } from './token-bucket.ts';
export { ChunkedFramer } from './chunked-framer.ts';
export { isHeadError, parseRequestHead, noLookups } from './request-head.ts';
export { parseResponseHead } from './response-head.ts';
export { clientOrigin, upstreamHead } from './forward-headers.ts';
export { isIdempotent, retryVerdict, tryTimeoutMs, type FailedTry, type RetryVerdict } from './retry-rule.ts';
export { accessLogLine, type AccessLogLine } from './access-log-line.ts';
export { BODY_MALFORMED, BODY_TOO_LARGE, REPLAY_LIMIT, RequestBody } from './request-body.ts';
