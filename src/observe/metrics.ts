/**
 * Prometheus metrics for one process: its own registry (so several nodes in one process, as in
 * tests, do not collide), Node's default metrics, and per-action call and event series.
 */
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import { toShoalError } from '../core/index.ts';
import type { Plugin } from '../core/index.ts';

export interface MetricsOptions {
  nodeId: string;
  role: string;
  /** Distinct service/version/action series per direction before the rest share one (default 2000). */
  maxSeries?: number;
}

export interface Metrics {
  readonly registry: Registry;
  /** Content-Type of metricsText() output. */
  readonly contentType: string;
  metricsText(): Promise<string>;
  /** Counts and times calls and events; every plugin from one Metrics writes the same series. */
  metricsPlugin(): Plugin;
}

// Seconds; RPC latencies from sub-millisecond local calls to multi-second timeouts.
const durationBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const callLabels = ['service', 'version', 'action'] as const;
const errorLabels = ['service', 'version', 'action', 'code'] as const;
// Where series past maxSeries go, so unexpected names (e.g. probes for unknown actions) cannot
// grow the registry without bound.
const overflow = '_other';

interface CallSeries {
  calls: Counter.Internal;
  duration: Histogram.Internal<(typeof callLabels)[number]>;
  errors: Map<string, Counter.Internal>;
  labels: [string, string, string];
}

/** The counters, histogram and label-child cache of one direction (inbound or outbound). */
class CallMetrics {
  readonly #calls: Counter<(typeof callLabels)[number]>;
  readonly #errors: Counter<(typeof errorLabels)[number]>;
  readonly #duration: Histogram<(typeof callLabels)[number]>;
  readonly #series = new Map<string, CallSeries>();
  readonly #maxSeries: number;
  #overflow: CallSeries | undefined;

  constructor(registry: Registry, direction: 'inbound' | 'outbound', maxSeries: number) {
    const registers = [registry];
    const what = direction === 'inbound' ? 'served by this process' : 'made by this process';
    this.#calls = new Counter({ name: `shoal_${direction}_calls_total`, help: `Calls ${what}.`, labelNames: callLabels, registers });
    this.#errors = new Counter({
      name: `shoal_${direction}_errors_total`,
      help: `Calls ${what} that failed, by error code.`,
      labelNames: errorLabels,
      registers,
    });
    this.#duration = new Histogram({
      name: `shoal_${direction}_call_duration_seconds`,
      help: `Duration of calls ${what}.`,
      labelNames: callLabels,
      buckets: durationBuckets,
      registers,
    });
    this.#maxSeries = maxSeries;
  }

  series(service: string, version: number, action: string): CallSeries {
    const key = `${service}@${version}.${action}`;
    let series = this.#series.get(key);
    if (series) return series;
    if (this.#series.size >= this.#maxSeries) {
      this.#overflow ??= this.#create([overflow, overflow, overflow]);
      return this.#overflow;
    }
    series = this.#create([service, String(version), action]);
    this.#series.set(key, series);
    return series;
  }

  #create(labels: [string, string, string]): CallSeries {
    return { calls: this.#calls.labels(...labels), duration: this.#duration.labels(...labels), errors: new Map(), labels };
  }

  recordError(series: CallSeries, err: unknown): void {
    const code = toShoalError(err).code;
    let child = series.errors.get(code);
    if (!child) {
      child = this.#errors.labels(...series.labels, code);
      series.errors.set(code, child);
    }
    child.inc();
  }
}

/** One counter per event name, with its label children cached. */
class EventCounter {
  readonly #counter: Counter<'event'>;
  readonly #children = new Map<string, Counter.Internal>();
  readonly #maxSeries: number;
  #overflow: Counter.Internal | undefined;

  constructor(registry: Registry, name: string, help: string, maxSeries: number) {
    this.#counter = new Counter({ name, help, labelNames: ['event'], registers: [registry] });
    this.#maxSeries = maxSeries;
  }

  inc(event: string): void {
    let child = this.#children.get(event);
    if (!child) {
      if (this.#children.size >= this.#maxSeries) {
        this.#overflow ??= this.#counter.labels(overflow);
        child = this.#overflow;
      } else {
        child = this.#counter.labels(event);
        this.#children.set(event, child);
      }
    }
    child.inc();
  }
}

export function createMetrics(options: MetricsOptions): Metrics {
  const maxSeries = options.maxSeries ?? 2000;
  const registry = new Registry();
  registry.setDefaultLabels({ node: options.nodeId, role: options.role });
  // Includes nodejs_eventloop_lag_seconds, the first sign of an overloaded node.
  collectDefaultMetrics({ register: registry });

  const inbound = new CallMetrics(registry, 'inbound', maxSeries);
  const outbound = new CallMetrics(registry, 'outbound', maxSeries);
  const emitted = new EventCounter(registry, 'shoal_events_emitted_total', 'Events emitted by this process.', maxSeries);
  const received = new EventCounter(
    registry,
    'shoal_events_received_total',
    'Event deliveries handled by this process.',
    maxSeries,
  );

  async function timed<T extends { service: string; version: number; action: string }>(
    metrics: CallMetrics,
    call: T,
    next: (call: T) => Promise<unknown>,
  ): Promise<unknown> {
    const series = metrics.series(call.service, call.version, call.action);
    const start = performance.now();
    try {
      return await next(call);
    } catch (err) {
      metrics.recordError(series, err);
      throw err;
    } finally {
      series.calls.inc();
      series.duration.observe((performance.now() - start) / 1000);
    }
  }

  const plugin: Plugin = {
    name: 'shoal:metrics',
    outboundCall: (call, next) => timed(outbound, call, next),
    inboundCall: (call, next) => timed(inbound, call, next),
    outboundEvent(message, next) {
      emitted.inc(message.event);
      return next(message);
    },
    inboundEvent(message, next) {
      received.inc(message.event);
      return next(message);
    },
  };

  return {
    registry,
    contentType: registry.contentType,
    metricsText: () => registry.metrics(),
    metricsPlugin: () => plugin,
  };
}
