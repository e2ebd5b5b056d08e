import { request } from 'node:http';
import type { Logger } from '../../core/index.ts';
import type { HealthCheckConfig } from './config-schema.ts';
import type { Upstream } from './upstream.ts';

/**
 * Active HTTP health checks for one backend: every `interval`, a GET of `path` on each server
 * over a fresh connection (so the check proves the server still accepts connections). `fall`
 * consecutive failures take a server down, `rise` consecutive passes bring it back.
 */
export class HealthChecker {
  #config: HealthCheckConfig;
  readonly #onChange: (upstream: Upstream) => void;
  readonly #logger: Logger;
  readonly #servers = new Map<Upstream, { timer: NodeJS.Timeout; passes: number; failures: number }>();
  #stopped = false;

  constructor(config: HealthCheckConfig, logger: Logger, onChange: (upstream: Upstream) => void) {
    this.#config = config;
    this.#logger = logger;
    this.#onChange = onChange;
  }

  configure(config: HealthCheckConfig): void {
    this.#config = config;
  }

  watch(upstream: Upstream): void {
    if (this.#servers.has(upstream) || this.#stopped) return;
    // A random first delay spreads the checks of many servers (and workers) over the interval.
    const timer = setTimeout(() => this.#check(upstream), Math.random() * this.#config.interval);
    timer.unref();
    this.#servers.set(upstream, { timer, passes: 0, failures: 0 });
  }

  unwatch(upstream: Upstream): void {
    const state = this.#servers.get(upstream);
    if (state) clearTimeout(state.timer);
    this.#servers.delete(upstream);
  }

  stop(): void {
    this.#stopped = true;
    for (const state of this.#servers.values()) clearTimeout(state.timer);
    this.#servers.clear();
  }

  #check(upstream: Upstream): void {
    const config = this.#config;
    let settled = false;
    const done = (ok: boolean, reason: string): void => {
      if (settled) return;
      settled = true;
      this.#record(upstream, ok, reason);
    };
    const req = request(
      { host: upstream.host, port: upstream.port, path: config.path, method: 'GET', agent: false, timeout: config.timeout, headers: { host: upstream.hostHeader, 'user-agent': 'shoal-lb-health' } },
      (res) => {
        const status = res.statusCode ?? 0;
        res.resume();
        done(status >= config.expectStatus[0] && status <= config.expectStatus[1], `status ${status}`);
      },
    );
    req.on('timeout', () => {
      req.destroy();
      done(false, `no answer within ${config.timeout}ms`);
    });
    req.on('error', (err) => done(false, err.message));
    req.end();
  }

  #record(upstream: Upstream, ok: boolean, reason: string): void {
    const state = this.#servers.get(upstream);
    if (!state) return;
    if (ok) {
      state.failures = 0;
      state.passes++;
      if (!upstream.healthy && state.passes >= this.#config.rise) {
        upstream.healthy = true;
        this.#logger.info({ upstream: upstream.id }, 'upstream passed its health checks: up');
        this.#onChange(upstream);
      }
    } else {
      state.passes = 0;
      state.failures++;
      if (upstream.healthy && state.failures >= this.#config.fall) {
        upstream.healthy = false;
        this.#logger.warn({ upstream: upstream.id, reason }, 'upstream failed its health checks: down');
        this.#onChange(upstream);
      }
    }
    state.timer = setTimeout(() => this.#check(upstream), this.#config.interval);
    state.timer.unref();
  }
}
