/**
 * Prometheus series of the load balancer, per upstream server. Label children are resolved
 * once per server, so a request costs a few increments and one histogram observation. Without
 * an admin listener nothing can scrape them, and the no-op recorder is used instead.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export type UpstreamErrorKind = 'connect' | 'timeout' | 'reset' | 'circuit-open';

export interface UpstreamMetrics {
  /** A response started (status) after `seconds`. */
  response(status: number, seconds: number): void;
  error(kind: UpstreamErrorKind): void;
  /** Requests in flight to the server changed by delta. */
  active(delta: number): void;
  /** Health as the balancer sees it: 1 serving, 0 not (down, ejected or draining). */
  health(serving: boolean): void;
  ejected(): void;
}

export interface LbMetrics {
  upstream(backend: string, url: string): UpstreamMetrics;
  /** A request refused at a listener (rate limited, too large, …), by status. */
  refused(listener: string, status: number): void;
}

const noopUpstream: UpstreamMetrics = {
  response() {},
  error() {},
  active() {},
  health() {},
  ejected() {},
};

export const noopMetrics: LbMetrics = {
  upstream: () => noopUpstream,
  refused() {},
};

// Seconds; from sub-millisecond local upstreams to long-polling ones.
const latencyBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const classes = ['1xx', '2xx', '3xx', '4xx', '5xx'];

export function createLbMetrics(registry: Registry): LbMetrics {
  const registers = [registry];
  const requests = new Counter({
    name: 'shoal_lb_upstream_requests_total',
    help: 'Responses from upstream servers, by status class.',
    labelNames: ['backend', 'upstream', 'class'],
    registers,
  });
  const errors = new Counter({
    name: 'shoal_lb_upstream_errors_total',
    help: 'Tries that got no response from an upstream server, by kind.',
    labelNames: ['backend', 'upstream', 'kind'],
    registers,
  });
  const latency = new Histogram({
    name: 'shoal_lb_upstream_latency_seconds',
    help: 'Time until an upstream server started its response.',
    labelNames: ['backend', 'upstream'],
    buckets: latencyBuckets,
    registers,
  });
  const active = new Gauge({
    name: 'shoal_lb_upstream_active_requests',
    help: 'Requests in flight to an upstream server.',
    labelNames: ['backend', 'upstream'],
    registers,
  });
  const health = new Gauge({
    name: 'shoal_lb_upstream_healthy',
    help: '1 while an upstream server takes traffic, 0 while down, ejected or draining.',
    labelNames: ['backend', 'upstream'],
    registers,
    // Across workers: healthy only where every worker sees it healthy.
    aggregator: 'min',
  });
  const ejections = new Counter({
    name: 'shoal_lb_upstream_ejections_total',
    help: 'Times an upstream server was ejected by outlier detection.',
    labelNames: ['backend', 'upstream'],
    registers,
  });
  const refused = new Counter({
    name: 'shoal_lb_refused_requests_total',
    help: 'Requests answered by the balancer itself (rate limited, too large, no upstream), by status.',
    labelNames: ['listener', 'status'],
    registers,
  });

  return {
    upstream(backend, url) {
      const labels = { backend, upstream: url };
      const byClass = classes.map((name) => requests.labels({ ...labels, class: name }));
      const errorChildren = new Map<UpstreamErrorKind, Counter.Internal>();
      const latencyChild = latency.labels(labels);
      const activeChild = active.labels(labels);
      const healthChild = health.labels(labels);
      const ejectionChild = ejections.labels(labels);
      healthChild.set(1);
      activeChild.set(0);
      return {
        response(status, seconds) {
          const index = Math.floor(status / 100) - 1;
          byClass[index >= 0 && index < 5 ? index : 4].inc();
          latencyChild.observe(seconds);
        },
        error(kind) {
          let child = errorChildren.get(kind);
          if (!child) {
            child = errors.labels({ ...labels, kind });
            errorChildren.set(kind, child);
          }
          child.inc();
        },
        active: (delta) => activeChild.inc(delta),
        health: (serving) => healthChild.set(serving ? 1 : 0),
        ejected: () => ejectionChild.inc(),
      };
    },
    refused(listener, status) {
      refused.inc({ listener, status: String(status) });
    },
  };
}
