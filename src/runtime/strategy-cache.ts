import { createStrategy, type Strategy, type StrategyFactory } from '../balance/index.ts';
import { serviceKey } from '../core/index.ts';
import type { ServiceEndpoint } from './registry.ts';

export interface StrategyCacheOptions {
  /** Strategies plugins bring, usable by name. */
  factories: Record<string, StrategyFactory>;
  /** Strategy for routes that name none. */
  defaultStrategy?: string;
  /** Strategy per route (`service@version` or `service`), over what the service declares. */
  balancing?: Readonly<Record<string, string>>;
}

/**
 * One balancing strategy per route, made on first use and kept: strategies that weigh load or
 * latency learn from every request, so a route must keep its instance.
 */
export class StrategyCache {
  readonly #options: StrategyCacheOptions;
  readonly #byKey = new Map<string, Strategy>();
  /** The call routes again by name, then version: a call finds its strategy without building a key. */
  readonly #byCall = new Map<string, Map<number, Strategy>>();

  constructor(options: StrategyCacheOptions) {
    this.#options = options;
  }

  /** The strategy of a call's route; `endpoints` (never empty) tell what the service declares. */
  forCall(service: string, version: number, endpoints: readonly ServiceEndpoint[]): Strategy {
    let versions = this.#byCall.get(service);
    const found = versions?.get(version);
    if (found) return found;
    const key = serviceKey(service, version);
    const overrides = this.#options.balancing;
    const strategy = this.forKey(key, overrides?.[key] ?? overrides?.[service] ?? endpoints[0].descriptor.balancing);
    if (!versions) this.#byCall.set(service, (versions = new Map()));
    versions.set(version, strategy);
    return strategy;
  }

  /** The strategy kept under `key`, made from `name` (else the default) the first time. */
  forKey(key: string, name: string | undefined): Strategy {
    let strategy = this.#byKey.get(key);
    if (!strategy) {
      strategy = createStrategy(name ?? this.#options.defaultStrategy ?? 'round-robin', this.#options.factories);
      this.#byKey.set(key, strategy);
    }
    return strategy;
  }
}
