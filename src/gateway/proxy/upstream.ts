import type { Endpoint } from '../../balance/index.ts';
import { UpstreamCircuit } from './circuit-breaker.ts';
import type { BackendConfig } from './config-schema.ts';
import type { UpstreamErrorKind, UpstreamMetrics } from './lb-metrics.ts';
import { OutlierDetector } from './outlier-detector.ts';
import { ConnectionPool } from './upstream-pool.ts';

/**
 * One upstream server of a backend: its connection pool, and the state that decides whether
 * it takes traffic (active health, outlier ejection, circuit breaker, draining). It is the
 * Endpoint handed to the balancing strategy, so a pick needs no lookup; `weight` carries the
 * slow-start ramp.
 */
export class Upstream implements Endpoint {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  /** "host:port", for a request that came without a Host header. */
  readonly hostHeader: string;
  weight: number;
  configuredWeight: number;
  readonly pool: ConnectionPool;
  readonly circuit: UpstreamCircuit;
  readonly outlier: OutlierDetector;
  readonly metrics: UpstreamMetrics;
  inFlight = 0;
  /** Active health checks' verdict; true until checks say otherwise. */
  healthy = true;
  draining = false;
  /** When the server last came back into the pool; 0 when it has been there from the start. */
  servingSinceMs = 0;
  /** Whether the pool counted it as serving at its last recomputation. */
  serving = true;
  #drained: (() => void) | undefined;

  constructor(url: string, weight: number, config: BackendConfig, metrics: UpstreamMetrics) {
    const parsed = new URL(url);
    this.id = url;
    this.host = parsed.hostname.startsWith('[') ? parsed.hostname.slice(1, -1) : parsed.hostname;
    this.port = Number(parsed.port || 80);
    this.hostHeader = parsed.host;
    this.weight = weight;
    this.configuredWeight = weight;
    this.pool = new ConnectionPool(this.host, this.port, config.maxSocketsPerServer, config.timeouts.idle);
    this.circuit = new UpstreamCircuit(config.circuitBreaker);
    this.outlier = new OutlierDetector(config.outlierDetection);
    this.metrics = metrics;
  }

  configure(weight: number, config: BackendConfig): void {
    this.configuredWeight = weight;
    this.weight = weight;
    this.circuit.configure(config.circuitBreaker);
    this.outlier.configure(config.outlierDetection);
    this.pool.maxSockets = config.maxSocketsPerServer;
    this.pool.idleMs = config.timeouts.idle;
  }

  /** Healthy, not ejected, not draining: eligible for the strategy's pick. */
  isEligible(nowMs: number): boolean {
    return this.healthy && !this.draining && !this.outlier.isEjected(nowMs);
  }

  begin(): void {
    this.inFlight++;
    this.metrics.active(1);
  }

  end(): void {
    this.inFlight--;
    this.metrics.active(-1);
    if (this.inFlight === 0 && this.#drained) this.#drained();
  }

  /** Counts a failed try toward the circuit breaker; true when it opened the circuit. */
  failed(kind: UpstreamErrorKind, nowMs: number): boolean {
    this.metrics.error(kind);
    return this.circuit.failure(nowMs);
  }

  /**
   * Takes the server out of rotation and resolves once its requests in flight have finished
   * (or `timeoutMs` passed); then its connections close.
   */
  drain(timeoutMs: number): Promise<void> {
    this.draining = true;
    this.metrics.health(false);
    return new Promise<void>((resolve) => {
      const finish = (): void => {
        clearTimeout(timer);
        this.#drained = undefined;
        this.pool.close();
        resolve();
      };
      const timer = setTimeout(finish, timeoutMs);
      timer.unref();
      if (this.inFlight === 0) finish();
      else this.#drained = finish;
    });
  }
}
