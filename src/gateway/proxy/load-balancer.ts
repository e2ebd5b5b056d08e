import { silentLogger, type Logger } from '../../core/index.ts';
import { Backend } from './backend-pool.ts';
import type { LbConfig, ListenerConfig } from './config-schema.ts';
import { noopMetrics, type LbMetrics } from './lb-metrics.ts';
import type { AccessLog, ListenerContext } from './listener-context.ts';
import { ProxyListener } from './proxy-listener.ts';
import { RateLimiter } from './rate-limiter.ts';

export interface LoadBalancerOptions {
  logger?: Logger;
  /** Where access log lines go when the config has them on. */
  accessLog?: AccessLog;
  metrics?: LbMetrics;
  /** Headers added to every response, as a flat name, value list. */
  responseHeaders?: string[];
}

export interface ListenerAddress {
  name: string;
  url: string;
  backend: string;
}

function listenerKey(config: ListenerConfig, index: number): string {
  const { host, port } = config.address;
  // Port 0 means "any free port", so two such listeners are different listeners.
  return port === 0 ? `${host}:0#${index}` : `${host}:${port}`;
}

function listenerName(config: ListenerConfig, index: number): string {
  return config.name ?? `listener-${index + 1}`;
}

/**
 * The standalone load balancer in one process: its listeners and backends, built from a
 * config and rebuilt from the next one without dropping connections. Listeners whose address
 * is unchanged are kept with their open connections; backends keep the servers still listed,
 * and the ones removed drain.
 */
export class LoadBalancer {
  readonly listeners = new Map<string, ProxyListener>();
  readonly backends = new Map<string, Backend>();
  #config: LbConfig;
  readonly #logger: Logger;
  readonly #options: LoadBalancerOptions;
  readonly #metrics: LbMetrics;
  #closed = false;

  private constructor(config: LbConfig, options: LoadBalancerOptions) {
    this.#config = config;
    this.#options = options;
    this.#logger = (options.logger ?? silentLogger).child({ component: 'lb' });
    this.#metrics = options.metrics ?? noopMetrics;
  }

  /** Starts listening on every listener; rejects (closing what was opened) when one cannot. */
  static async start(config: LbConfig, options: LoadBalancerOptions = {}): Promise<LoadBalancer> {
    const balancer = new LoadBalancer(config, options);
    try {
      await balancer.#apply(config);
    } catch (err) {
      await balancer.close(0);
      throw err;
    }
    return balancer;
  }

  get config(): LbConfig {
    return this.#config;
  }

  addresses(): ListenerAddress[] {
    return [...this.listeners.values()].map((listener) => ({ name: listener.context.name, url: listener.url, backend: listener.context.backend.name }));
  }

  /** Applies a new config. If a new listener cannot open, nothing changes and this rejects. */
  async reload(config: LbConfig): Promise<void> {
    if (this.#closed) throw new Error('the load balancer is closed');
    await this.#apply(config);
    this.#config = config;
    this.#logger.info({ listeners: this.addresses().map((a) => a.url), backends: [...this.backends.keys()] }, 'configuration applied');
  }

  #context(config: ListenerConfig, index: number, backend: Backend, lbConfig: LbConfig, previous?: ListenerContext): ListenerContext {
    const rateLimit = config.rateLimit;
    // An unchanged rate limit keeps its buckets, so a reload does not hand every client a fresh burst.
    const previousLimiter = previous?.rateLimiter;
    const sameRateLimit = previousLimiter !== undefined && JSON.stringify(rateLimit) === JSON.stringify(previousLimiter.config);
    const responseHeaders = this.#options.responseHeaders ?? [];
    let encoded = '';
    for (let i = 0; i < responseHeaders.length; i += 2) encoded += `${responseHeaders[i]}: ${responseHeaders[i + 1]}\r\n`;
    const hash = backend.config.hash;
    return {
      name: listenerName(config, index),
      backend,
      proto: 'http',
      maxBodyBytes: config.limits.maxBodyBytes,
      rateLimiter: rateLimit === undefined ? undefined : sameRateLimit ? previousLimiter : new RateLimiter(rateLimit),
      accessLog: lbConfig.accessLog ? this.#options.accessLog : undefined,
      metrics: this.#metrics,
      responseHeaders,
      responseHeaderBytes: Buffer.from(encoded, 'latin1'),
      lookups: {
        keyHeader: rateLimit?.by === 'header' ? Buffer.from(rateLimit.header, 'latin1') : undefined,
        hashHeader: backend.hashes && hash.source === 'header' ? Buffer.from(hash.name, 'latin1') : undefined,
        wantCookie: backend.hashes && hash.source === 'cookie',
      },
      closing: false,
    };
  }

  /**
   * The running listener a listener config means: same configured address, or the address a
   * "port 0" listener actually got (a config rewritten with that port keeps the listener).
   */
  #existingListener(key: string, config: ListenerConfig): ProxyListener | undefined {
    const byKey = this.listeners.get(key);
    if (byKey) return byKey;
    if (config.address.port === 0) return undefined;
    for (const listener of this.listeners.values()) {
      if (listener.address.port === config.address.port && listener.address.host === config.address.host) return listener;
    }
    return undefined;
  }

  async #apply(config: LbConfig): Promise<void> {
    // Backends first, so new listeners have somewhere to send requests; existing backends
    // are updated only once every new listener is open, so a failed reload changes nothing.
    const created = new Map<string, Backend>();
    const backendFor = (name: string): Backend => {
      const existing = this.backends.get(name) ?? created.get(name);
      if (existing) return existing;
      const backend = new Backend(name, config.backends[name], this.#logger, this.#metrics);
      created.set(name, backend);
      return backend;
    };
    const opened = new Map<string, ProxyListener>();
    const keep = new Map<string, { listener: ProxyListener; config: ListenerConfig; index: number }>();
    try {
      for (let index = 0; index < config.listeners.length; index++) {
        const listenerConfig = config.listeners[index];
        const key = listenerKey(listenerConfig, index);
        const existing = this.#existingListener(key, listenerConfig);
        if (existing) {
          keep.set(key, { listener: existing, config: listenerConfig, index });
          continue;
        }
        const listener = new ProxyListener(key, listenerConfig.address, listenerConfig.limits, this.#context(listenerConfig, index, backendFor(listenerConfig.backend), config));
        await listener.listen();
        opened.set(key, listener);
      }
    } catch (err) {
      await Promise.all([...opened.values()].map((listener) => listener.close(0)));
      await Promise.all([...created.values()].map((backend) => backend.close(0)));
      throw err;
    }

    for (const [name, backendConfig] of Object.entries(config.backends)) {
      const existing = this.backends.get(name);
      if (existing) existing.update(backendConfig);
      else this.backends.set(name, created.get(name) ?? new Backend(name, backendConfig, this.#logger, this.#metrics));
    }
    for (const [key, { listener, config: listenerConfig, index }] of keep) {
      listener.context = this.#context(listenerConfig, index, this.backends.get(listenerConfig.backend)!, config, listener.context);
      const fixed = listener.applyLimits(listenerConfig.limits);
      if (fixed.length > 0) this.#logger.warn({ listener: key, settings: fixed }, 'these settings of a running listener change only on restart');
    }
    const kept = new Set([...keep.values()].map((entry) => entry.listener));
    const removedListeners = [...this.listeners.entries()].filter(([, listener]) => !kept.has(listener));
    this.listeners.clear();
    for (const [key, { listener }] of keep) this.listeners.set(key, listener);
    for (const [key, listener] of opened) this.listeners.set(key, listener);
    const removedBackends = [...this.backends.entries()].filter(([name]) => !Object.hasOwn(config.backends, name));
    for (const [name] of removedBackends) this.backends.delete(name);

    // Removed listeners finish their requests before their backends drain and close.
    const drainMs = Math.max(0, ...removedBackends.map(([, backend]) => backend.config.drainTimeout), 30_000);
    void Promise.all(removedListeners.map(([, listener]) => listener.close(drainMs))).then(() =>
      Promise.all(removedBackends.map(([, backend]) => backend.close())),
    );
  }

  /** Stops accepting, lets requests in flight finish (up to `timeoutMs`), closes upstream connections. */
  async close(timeoutMs = 30_000): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.listeners.values()].map((listener) => listener.close(timeoutMs)));
    this.listeners.clear();
    await Promise.all([...this.backends.values()].map((backend) => backend.close(timeoutMs)));
    this.backends.clear();
  }

  /** A JSON summary of every backend's servers, for /healthz. */
  health(): object {
    const now = Date.now();
    const backends: Record<string, object> = {};
    for (const [name, backend] of this.backends) {
      backends[name] = {
        algorithm: backend.config.algorithm,
        eligible: backend.eligible.length,
        servers: [...backend.upstreams.values()].map((upstream) => ({
          url: upstream.id,
          healthy: upstream.healthy,
          ejected: upstream.outlier.isEjected(now),
          circuit: upstream.circuit.state(now),
          inFlight: upstream.inFlight,
          weight: upstream.weight,
        })),
      };
    }
    const serving = [...this.backends.values()].every((backend) => backend.eligible.length > 0);
    return { status: serving ? 'ok' : 'degraded', listeners: this.addresses(), backends };
  }
}
