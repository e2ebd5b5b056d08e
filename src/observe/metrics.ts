/**
 * Prometheus metrics for one process: its own registry (so several nodes in one process, as in
 * tests, do not collide), Node's default metrics, and per-action call and event series.
 *
 * Calls are counted in plain numbers per series and handed to prom-client when it is scraped.
 * prom-client's labelled inc()/observe() hash and validate the label set on every call, which
 * on an RPC hot path costs more than the rest of the bookkeeping; a scrape pays it instead.
 */
import { collectDefaultMetrics, Counter, Registry } from 'prom-client';
import { toShoalError } from '../core/index.ts';
import type { Plugin } from '../core/index.ts';
import { SeriesHistogram, type HistogramSeries } from './series-histogram.ts';

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
type CallLabel = (typeof callLabels)[number];
// Where series past maxSeries go, so unexpected names (e.g. probes for unknown actions) cannot
// grow the registry without bound.
const overflow = '_other';

/** Running totals of one service/version/action in one direction. */
class CallSeries implements HistogramSeries<CallLabel> {
  readonly labels: Record<CallLabel, string>;
  count = 0;
  sum = 0;
  /** Observations per bucket (not cumulative); the last slot counts those above every bound. */
  readonly buckets = new Float64Array(durationBuckets.length + 1);
  readonly errors = new Map<string, number>();

  constructor(service: string, version: string, action: string) {
    this.labels = { service, version, action };
  }

  observe(seconds: number): void {
    this.count++;
    this.sum += seconds;
    let i = 0;
    while (i < durationBuckets.length && seconds > durationBuckets[i]) i++;
    this.buckets[i]++;
  }

  recordError(err: unknown): void {
    const code = toShoalError(err).code;
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
  }
}

/** The series of one direction (inbound or outbound), exported as counters and a histogram. */
class CallMetrics {
  // service → version → action: nested lookups, so finding a call's series builds no key string.
  readonly #series = new Map<string, Map<number, Map<string, CallSeries>>>();
  readonly #all: CallSeries[] = [];
  readonly #maxSeries: number;
  #overflow: CallSeries | undefined;

  constructor(registry: Registry, direction: 'inbound' | 'outbound', maxSeries: number) {
    const registers = [registry];
    const what = direction === 'inbound' ? 'served by this process' : 'made by this process';
    const all = this.#all;
    new Counter({
      name: `shoal_${direction}_calls_total`,
      help: `Calls ${what}.`,
      labelNames: callLabels,
      registers,
      collect() {
        this.reset();
        for (const series of all) if (series.count > 0) this.inc(series.labels, series.count);
      },
    });
    new Counter({
      name: `shoal_${direction}_errors_total`,
      help: `Calls ${what} that failed, by error code.`,
      labelNames: errorLabels,
      registers,
      collect() {
        this.reset();
        for (const series of all) for (const [code, n] of series.errors) this.inc({ ...series.labels, code }, n);
      },
    });
    new SeriesHistogram<CallLabel>({
      name: `shoal_${direction}_call_duration_seconds`,
      help: `Duration of calls ${what}.`,
      labelNames: callLabels,
      buckets: durationBuckets,
      registers,
      series: all,
    });
    this.#maxSeries = maxSeries;
  }

  series(service: string, version: number, action: string): CallSeries {
    const found = this.#series.get(service)?.get(version)?.get(action);
    if (found) return found;
    if (this.#all.length >= this.#maxSeries) {
      if (!this.#overflow) {
        this.#overflow = new CallSeries(overflow, overflow, overflow);
        this.#all.push(this.#overflow);
      }
      return this.#overflow;
    }
    const series = new CallSeries(service, String(version), action);
    let versions = this.#series.get(service);
    if (!versions) this.#series.set(service, (versions = new Map()));
    let actions = versions.get(version);
    if (!actions) versions.set(version, (actions = new Map()));
    actions.set(action, series);
    this.#all.push(series);
    return series;
  }
}

/** One counter per event name, counted in a plain map and exported at scrape time. */
class EventCounter {
  readonly #counts = new Map<string, number>();
  readonly #maxSeries: number;
  /** Event names given their own series; the rest share the overflow one. */
  #named = 0;

  constructor(registry: Registry, name: string, help: string, maxSeries: number) {
    const counts = this.#counts;
    new Counter({
      name,
      help,
      labelNames: ['event'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [event, n] of counts) this.inc({ event }, n);
      },
    });
    this.#maxSeries = maxSeries;
  }

  inc(event: string): void {
    const counts = this.#counts;
    const current = counts.get(event);
    if (current !== undefined) counts.set(event, current + 1);
    else if (this.#named < this.#maxSeries) {
      this.#named++;
      counts.set(event, 1);
    } else counts.set(overflow, (counts.get(overflow) ?? 0) + 1);
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

  // Not async, and no try/finally: one .then() per call instead of an async frame plus its
  // promise, on a path every call takes. A synchronous throw from next is counted the same way.
  function timed<T extends { service: string; version: number; action: string }>(
    metrics: CallMetrics,
    call: T,
    next: (call: T) => Promise<unknown>,
  ): Promise<unknown> {
    const series = metrics.series(call.service, call.version, call.action);
    const start = performance.now();
    let pending: Promise<unknown>;
    try {
      pending = next(call);
    } catch (err) {
      series.recordError(err);
      series.observe((performance.now() - start) / 1000);
      return Promise.reject(err);
    }
    return pending.then(
      (value) => {
        series.observe((performance.now() - start) / 1000);
        return value;
      },
      (err: unknown) => {
        series.recordError(err);
        series.observe((performance.now() - start) / 1000);
        throw err;
      },
    );
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
