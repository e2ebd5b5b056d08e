import type { Plugin } from './hooks.ts';
import type { AnyService } from './service.ts';

/** Config sections that higher layers add (the data store adds `collections` and `data`) by declaration merging. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface ConfigExtensions {}

/** What a `shoal.config.ts` exports as default: the application a cluster runs. */
export interface ShoalConfig extends ConfigExtensions {
  /** Services every node hosts. */
  services: AnyService[];
  /** Plugins added after the built-in ones, on every node and gateway. */
  plugins?: Plugin[];
  /** Default balancing strategy for calls between services (round-robin when absent). */
  balancing?: string;
  /** Default per-call time limit in ms. */
  callTimeoutMs?: number;
  gateway?: GatewayConfig;
}

export interface GatewayConfig {
  /** Balancing per route, overriding the services' own: `{ 'links@2': 'least-conn', analytics: 'p2c' }`. */
  balancing?: Record<string, string>;
  /** Largest request body accepted, in bytes (default 1 MiB). */
  maxBodyBytes?: number;
  /** Requests per second per client address (or per API key header), as in `shoal lb`. */
  rateLimit?: { ratePerSecond: number; burst?: number; by?: 'client-ip' | 'header'; header?: string };
}

export function defineConfig(config: ShoalConfig): ShoalConfig {
  if (!Array.isArray(config.services)) throw new Error('shoal config: services must be an array of defineService(...) results');
  return config;
}

/** Checks an imported module's default export, so a typo'd config file fails with a clear message. */
export function configFromModule(module: unknown, path: string): ShoalConfig {
  const config = (module as { default?: unknown } | null)?.default;
  if (!config || typeof config !== 'object' || !Array.isArray((config as ShoalConfig).services)) {
    throw new Error(`${path} must export default defineConfig({ services: [...] })`);
  }
  return config as ShoalConfig;
}
