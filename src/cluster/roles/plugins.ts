import type { Logger, Plugin } from '../../core/index.ts';
import { loggingPlugin, tracingPlugin, type Metrics } from '../../observe/index.ts';
import { circuitBreakerPlugin, retryPlugin, timeoutPlugin, type RuntimePlugin } from '../../runtime/index.ts';

/**
 * The built-in plugins in their order: tracing outermost so a span covers retries; metrics and
 * logs see each logical call once; the timeout sets the deadline that retries respect; the
 * circuit breaker works per attempt. The application's plugins come last, nearest the work, so
 * they may name any built-in one in their `dependencies`.
 */
export function builtinPlugins(logger: Logger, metrics: Metrics, extra: readonly Plugin[] = []): RuntimePlugin[] {
  return [tracingPlugin(), metrics.metricsPlugin(), loggingPlugin(logger), timeoutPlugin(), retryPlugin(), circuitBreakerPlugin(), ...extra];
}
