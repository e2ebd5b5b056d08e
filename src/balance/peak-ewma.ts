import type { Endpoint, PickContext, RequestOutcome, Strategy } from './index.ts';
import { candidateIndex, countCandidates, type RandomSource } from './endpoints.ts';
import { EndpointLoad } from './load.ts';
import { sampleTwo } from './power-of-two.ts';

export interface PeakEwmaOptions {
  /** Time constant of the latency average: older observations weigh e^(-age/decayMs). */
  decayMs?: number;
  /** Uniform source in [0, 1); Math.random when absent. */
  random?: RandomSource;
  /** Clock in milliseconds; performance.now when absent. */
  now?: () => number;
}

interface LatencyEstimate {
  /** Peak-sensitive moving average of latency, in milliseconds. */
  ewma: number;
  /** When ewma was last brought up to date. */
  stamp: number;
}

/**
 * Cost of an endpoint with no latency estimate yet but requests in flight: above any real
 * cost, ordered by outstanding count, so a cold start behaves like least connections.
 */
const UNMEASURED_BUSY_COST = 1e12;

/**
 * Finagle and Linkerd's peak-EWMA: cost = latency estimate × (outstanding + 1), compared
 * between two random endpoints. The estimate jumps to any slower observation at once and
 * decays toward faster ones (and toward zero while unused, so a once-slow endpoint is
 * retried eventually).
 */
export function peakEwma(options: PeakEwmaOptions = {}): Strategy {
  const decayMs = options.decayMs ?? 10_000;
  if (!(decayMs > 0)) throw new Error(`peakEwma: decayMs must be positive, got ${decayMs}`);
  const next = options.random ?? Math.random;
  const now = options.now ?? (() => performance.now());
  const load = new EndpointLoad();
  const estimates = new Map<string, LatencyEstimate>();

  /**
   * Folds a latency observed at `time` into the estimate: a slower one is taken at once, a
   * faster one blends in by the time elapsed since the estimate was last touched.
   */
  function observe(estimate: LatencyEstimate, latencyMs: number, time: number): void {
    const elapsed = Math.max(time - estimate.stamp, 0);
    const keep = Math.exp(-elapsed / decayMs);
    estimate.ewma = latencyMs > estimate.ewma ? latencyMs : estimate.ewma * keep + latencyMs * (1 - keep);
    estimate.stamp = time;
  }

  /**
   * A newcomer starts at the mean of the known estimates: neither so cheap that it is
   * flooded nor so dear that it is never tried.
   */
  function estimateFor(endpointId: string, time: number): LatencyEstimate {
    let estimate = estimates.get(endpointId);
    if (estimate === undefined) {
      let sum = 0;
      for (const known of estimates.values()) {
        observe(known, 0, time);
        sum += known.ewma;
      }
      estimate = { ewma: estimates.size > 0 ? sum / estimates.size : 0, stamp: time };
      estimates.set(endpointId, estimate);
    }
    return estimate;
  }

  function cost(endpoint: Endpoint, time: number): number {
    const estimate = estimateFor(endpoint.id, time);
    // Reading ages the estimate toward zero, so an endpoint left alone is tried again.
    observe(estimate, 0, time);
    const outstanding = load.outstanding(endpoint.id);
    if (estimate.ewma === 0 && outstanding > 0) return UNMEASURED_BUSY_COST + outstanding;
    return estimate.ewma * (outstanding + 1);
  }

  /** Drops estimates of endpoints no longer offered, once they outnumber the live ones. */
  function prune(endpoints: readonly Endpoint[]): void {
    if (estimates.size <= 2 * endpoints.length + 16) return;
    const live = new Set(endpoints.map((endpoint) => endpoint.id));
    for (const id of estimates.keys()) if (!live.has(id)) estimates.delete(id);
  }

  return {
    name: 'peak-ewma',
    pick(endpoints: readonly Endpoint[], context?: PickContext): Endpoint | undefined {
      const exclude = context?.exclude;
      const count = countCandidates(endpoints, exclude);
      if (count === 0) return undefined;
      if (count === 1) return endpoints[candidateIndex(endpoints, exclude, 0)];
      prune(endpoints);
      const time = now();
      const pair = sampleTwo(endpoints, exclude, count, next);
      const a = endpoints[pair[0]];
      const b = endpoints[pair[1]];
      return cost(b, time) < cost(a, time) ? b : a;
    },
    onStart(endpointId: string): void {
      load.start(endpointId);
    },
    onEnd(endpointId: string, outcome: RequestOutcome): void {
      load.end(endpointId);
      const time = now();
      const estimate = estimateFor(endpointId, time);
      // A fast failure must not make an endpoint look attractive.
      const latency = outcome.ok ? outcome.latencyMs : Math.max(outcome.latencyMs, estimate.ewma);
      if (latency >= 0) observe(estimate, latency, time);
    },
  };
}
