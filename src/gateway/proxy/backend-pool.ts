import { createStrategy, type PickContext, type Strategy } from '../../balance/index.ts';
import type { Logger } from '../../core/index.ts';
import type { BackendConfig } from './config-schema.ts';
import { HealthChecker } from './health-checker.ts';
import type { LbMetrics, UpstreamErrorKind } from './lb-metrics.ts';
import { maxEjectable } from './outlier-detector.ts';
import type { RequestHead } from './request-head.ts';
import { RetryBudget } from './retry-budget.ts';
import { slowStartFactor } from './slow-start.ts';
import { Upstream } from './upstream.ts';

const hashingAlgorithms = new Set(['ip-hash', 'consistent-hash', 'maglev']);
/** How often slow-start weights are recomputed while a server ramps up. */
const WEIGHT_REFRESH_MS = 100;

/**
 * The strategy that runs a configured algorithm. Slow start works through weights, so with it
 * round robin and random run as their weighted forms (identical while weights are equal).
 * Hashing strategies keep full weights: changing them would move keys between servers.
 */
function effectiveAlgorithm(config: BackendConfig): string {
  if (config.slowStart > 0 && config.algorithm === 'round-robin') return 'weighted-round-robin';
  if (config.slowStart > 0 && config.algorithm === 'random') return 'weighted-random';
  return config.algorithm;
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * A named group of upstream servers behind one balancing strategy. It keeps the list of
 * servers eligible for a pick up to date as health checks, ejections and reloads change it,
 * so a pick is the strategy's work alone.
 */
export class Backend {
  readonly name: string;
  config: BackendConfig;
  strategy: Strategy;
  retryBudget: RetryBudget;
  readonly upstreams = new Map<string, Upstream>();
  /** Servers a pick may choose: healthy, not ejected, not draining. */
  eligible: Upstream[] = [];
  readonly #logger: Logger;
  readonly #metrics: LbMetrics;
  #algorithm: string;
  #health: HealthChecker | undefined;
  #slowStartUntilMs = 0;
  #nextWeightsMs = 0;
  readonly #context: PickContext = {};

  constructor(name: string, config: BackendConfig, logger: Logger, metrics: LbMetrics) {
    this.name = name;
    this.config = config;
    this.#logger = logger.child({ backend: name });
    this.#metrics = metrics;
    this.#algorithm = effectiveAlgorithm(config);
    this.strategy = createStrategy(this.#algorithm);
    this.retryBudget = new RetryBudget(config.retries);
    this.update(config);
  }

  /** Applies a new config: kept servers keep their connections and state, removed ones drain. */
  update(config: BackendConfig): void {
    const previous = this.config;
    this.config = config;
    const algorithm = effectiveAlgorithm(config);
    if (algorithm !== this.#algorithm) {
      this.#algorithm = algorithm;
      this.strategy = createStrategy(algorithm);
    }
    if (previous !== config) this.retryBudget = new RetryBudget(config.retries);
    if (config.healthCheck) {
      if (this.#health) this.#health.configure(config.healthCheck);
      else this.#health = new HealthChecker(config.healthCheck, this.#logger, () => this.recompute());
    } else if (this.#health) {
      this.#health.stop();
      this.#health = undefined;
      for (const upstream of this.upstreams.values()) upstream.healthy = true;
    }
    const wanted = new Set<string>();
    for (const server of config.servers) {
      wanted.add(server.url);
      const existing = this.upstreams.get(server.url);
      if (existing) existing.configure(server.weight, config);
      else this.upstreams.set(server.url, new Upstream(server.url, server.weight, config, this.#metrics.upstream(this.name, server.url)));
      this.#health?.watch(this.upstreams.get(server.url)!);
    }
    for (const [url, upstream] of this.upstreams) {
      if (wanted.has(url)) continue;
      this.upstreams.delete(url);
      this.#drain(upstream, config.drainTimeout);
    }
    this.recompute();
  }

  #drain(upstream: Upstream, timeoutMs: number): Promise<void> {
    this.#health?.unwatch(upstream);
    this.#logger.info({ upstream: upstream.id, inFlight: upstream.inFlight }, 'draining upstream');
    return upstream.drain(timeoutMs).then(() => this.#logger.info({ upstream: upstream.id }, 'upstream drained'));
  }

  /** Rebuilds the eligible list; a server coming back starts its slow start. */
  recompute(): void {
    const now = Date.now();
    const eligible: Upstream[] = [];
    for (const upstream of this.upstreams.values()) {
      const serving = upstream.isEligible(now);
      if (serving !== upstream.serving) {
        upstream.serving = serving;
        upstream.metrics.health(serving);
        if (serving && this.config.slowStart > 0) {
          upstream.servingSinceMs = now;
          this.#slowStartUntilMs = Math.max(this.#slowStartUntilMs, now + this.config.slowStart);
          this.#nextWeightsMs = 0;
        }
      }
      if (serving) eligible.push(upstream);
    }
    this.eligible = eligible;
    this.#refreshWeights(now);
  }

  #refreshWeights(now: number): void {
    this.#nextWeightsMs = now + WEIGHT_REFRESH_MS;
    const ramp = this.config.slowStart > 0 && !hashingAlgorithms.has(this.config.algorithm);
    for (const upstream of this.eligible) {
      upstream.weight = ramp && upstream.servingSinceMs > 0 ? upstream.configuredWeight * slowStartFactor(now - upstream.servingSinceMs, this.config.slowStart) : upstream.configuredWeight;
    }
  }

  /** Whether picks need a hash key (the strategy is a hashing one). */
  get hashes(): boolean {
    return hashingAlgorithms.has(this.config.algorithm);
  }

  /** The hash key of a request, from the configured source. */
  hashKey(head: RequestHead, clientIp: string): string | undefined {
    const source = this.config.hash;
    switch (source.source) {
      case 'client-ip':
        return clientIp;
      case 'path': {
        const url = head.target;
        const query = url.indexOf('?');
        return query === -1 ? url : url.slice(0, query);
      }
      case 'header':
        return head.hashValue;
      case 'cookie':
        return cookieValue(head.cookie, source.name);
    }
  }

  /**
   * Chooses a server whose circuit admits the request, avoiding `exclude`; undefined when
   * none is left.
   */
  pick(key: string | undefined, exclude: ReadonlySet<string> | undefined, now: number): Upstream | undefined {
    if (this.#slowStartUntilMs !== 0 && now >= this.#nextWeightsMs) {
      this.#refreshWeights(now);
      // Once every ramp is over, weights are final and picks stop checking the clock.
      if (now >= this.#slowStartUntilMs) this.#slowStartUntilMs = 0;
    }
    const eligible = this.eligible;
    const context = this.#context;
    context.key = key;
    context.exclude = exclude;
    let refused: Set<string> | undefined;
    for (let attempt = 0; attempt <= eligible.length; attempt++) {
      const picked = this.strategy.pick(eligible, context) as Upstream | undefined;
      if (picked === undefined) return undefined;
      if (picked.circuit.admit(picked.inFlight, now)) return picked;
      refused ??= new Set(exclude);
      refused.add(picked.id);
      context.exclude = refused;
    }
    return undefined;
  }

  /** A try got a response with this status. */
  recordStatus(upstream: Upstream, status: number, now: number): void {
    if (upstream.circuit.success()) this.#logger.info({ upstream: upstream.id }, 'circuit closed');
    if (status >= 500) this.#outlierFailure(upstream, now);
    else upstream.outlier.success();
  }

  /** A try got no response (connection failure, reset, timeout). */
  recordFailure(upstream: Upstream, kind: UpstreamErrorKind, now: number): void {
    if (upstream.failed(kind, now)) this.#logger.warn({ upstream: upstream.id, kind }, 'circuit opened');
    this.#outlierFailure(upstream, now);
  }

  #outlierFailure(upstream: Upstream, now: number): void {
    if (upstream.draining) return;
    let ejected = 0;
    for (const other of this.upstreams.values()) if (other.outlier.isEjected(now)) ejected++;
    const allowed = ejected < maxEjectable(this.upstreams.size, this.config.outlierDetection.maxEjectedPercent);
    const duration = upstream.outlier.failure(now, allowed);
    if (duration === 0) return;
    upstream.metrics.ejected();
    this.#logger.warn({ upstream: upstream.id, ejectionMs: duration, ejections: upstream.outlier.ejectionCount }, 'upstream ejected');
    this.recompute();
    setTimeout(() => this.recompute(), duration + 1).unref();
  }

  /** Stops health checks and drains every server. */
  async close(timeoutMs = this.config.drainTimeout): Promise<void> {
    this.#health?.stop();
    this.#health = undefined;
    const upstreams = [...this.upstreams.values()];
    this.upstreams.clear();
    this.eligible = [];
    await Promise.all(upstreams.map((upstream) => upstream.drain(timeoutMs)));
  }
}
