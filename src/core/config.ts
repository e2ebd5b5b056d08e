import type { Plugin } from './hooks.ts';
import { serviceLabel, serviceProblems, type AnyService } from './service.ts';

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

/** A config that cannot run: every problem found, one line each, and the file they are in. */
export class InvalidConfigError extends Error {
  override readonly name = 'InvalidConfigError';
  readonly file: string;
  readonly problems: readonly string[];
  constructor(file: string, problems: readonly string[]) {
    super(problems.length === 1 ? `${file}: ${problems[0]}` : `${file}:\n  ${problems.join('\n  ')}`);
    this.file = file;
    this.problems = problems;
  }
}

export interface ConfigCheckOptions {
  /**
   * Balancing strategy names to accept, when known (core does not know the balancers; plugins
   * add their own). Without it, names are checked where they are used.
   */
  strategies?: readonly string[];
  /** The known name an unknown one was probably meant to be (the CLI's edit-distance suggester). */
  suggest?: (name: string, known: readonly string[]) => string | undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function strategyProblem(where: string, name: unknown, options: ConfigCheckOptions): string | undefined {
  if (typeof name !== 'string') return `${where}: balancing must be a strategy name, got ${JSON.stringify(name)}`;
  const known = options.strategies;
  if (known === undefined || known.includes(name)) return undefined;
  const meant = options.suggest?.(name, known);
  return `${where}: unknown balancing strategy "${name}"${meant ? `; did you mean "${meant}"?` : ''} (known: ${[...known].sort().join(', ')})`;
}

/**
 * What is wrong with a config's services and its runtime sections, one line each: `service 2:
 * missing name`, `services 1 and 3 are both links@2`. Empty when it can run.
 */
export function configProblems(config: unknown, options: ConfigCheckOptions = {}): string[] {
  if (!isObject(config) || !Array.isArray(config.services)) return ['must export default defineConfig({ services: [...] })'];
  const problems: string[] = [];
  const seen = new Map<string, number>();
  config.services.forEach((service: unknown, index) => {
    const position = index + 1;
    const label = serviceLabel(service);
    const where = label ? `service ${position} (${label})` : `service ${position}`;
    const own = serviceProblems(service);
    for (const problem of own) problems.push(`${where}: ${problem}`);
    if (own.length > 0 || !label) return;
    const first = seen.get(label);
    if (first !== undefined) problems.push(`services ${first} and ${position} are both ${label}: each version of a service is declared once`);
    else seen.set(label, position);
    const balancing = (service as AnyService).balancing;
    if (balancing !== undefined) {
      const problem = strategyProblem(where, balancing, options);
      if (problem) problems.push(problem);
    }
  });
  if (config.plugins !== undefined && !Array.isArray(config.plugins)) problems.push('plugins must be an array');
  if (config.balancing !== undefined) {
    const problem = strategyProblem('balancing', config.balancing, options);
    if (problem) problems.push(problem);
  }
  if (config.callTimeoutMs !== undefined && !(typeof config.callTimeoutMs === 'number' && config.callTimeoutMs > 0)) {
    problems.push(`callTimeoutMs must be a positive number of milliseconds, got ${JSON.stringify(config.callTimeoutMs)}`);
  }
  const gateway = config.gateway;
  if (gateway !== undefined) {
    if (!isObject(gateway)) problems.push('gateway must be an object');
    else if (gateway.balancing !== undefined) {
      if (!isObject(gateway.balancing)) problems.push("gateway.balancing must map routes to strategy names, e.g. { 'links@2': 'least-conn' }");
      else {
        for (const [route, name] of Object.entries(gateway.balancing)) {
          const problem = strategyProblem(`gateway.balancing["${route}"]`, name, options);
          if (problem) problems.push(problem);
        }
      }
    }
  }
  return problems;
}

/** Checks an imported module's default export, so a typo'd config file fails with a clear message. */
export function configFromModule(module: unknown, path: string, options: ConfigCheckOptions = {}): ShoalConfig {
  const config = (module as { default?: unknown } | null)?.default;
  const problems = configProblems(config, options);
  if (problems.length > 0) throw new InvalidConfigError(path, problems);
  return config as ShoalConfig;
}
