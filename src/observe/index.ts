/** Observability: structured logs, Prometheus metrics, distributed tracing, and their plugins. */
export { createLogger } from './logger.ts';
export type { LoggerOptions, ShoalLogger } from './logger.ts';
export { loggingPlugin } from './logging-plugin.ts';
export { createMetrics } from './metrics.ts';
export type { Metrics, MetricsOptions } from './metrics.ts';
export { createObservabilityServer, serveMetrics } from './server.ts';
export type { ObservabilityServer, ObservabilityServerOptions } from './server.ts';
export { contextFromMeta, injectIntoMeta, recentSpans, startTracing, tracingPlugin } from './tracing.ts';
export type { Tracing, TracingOptions, TracingPluginOptions } from './tracing.ts';
export type { FinishedSpan } from './span-ring.ts';
export { SpanRing } from './span-ring.ts';
export { parseTraceParent, spanIdOf, traceIdOf } from './traceparent.ts';
export type { TraceParent } from './traceparent.ts';
export { TraceSampler } from './sampling.ts';
export type { SamplingOptions } from './sampling.ts';
