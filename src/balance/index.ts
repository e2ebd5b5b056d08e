/**
 * Balancing strategies, shared by RPC between nodes, the cluster gateway and the standalone
 * load balancer. A strategy only chooses; callers report each request's start and end so
 * strategies that need live load (least outstanding, peak-EWMA) can see it.
 */
export interface Endpoint {
  /** Stable identity (node id, upstream URL). */
  id: string;
  /** Relative capacity; 1 when absent. */
  weight?: number;
}

export interface PickContext {
  /** Hash key for sticky strategies (param value, header, cookie, path, client IP). */
  key?: string;
  /** Endpoints already tried for this request, to be avoided when another exists. */
  exclude?: ReadonlySet<string>;
}

export interface RequestOutcome {
  latencyMs: number;
  ok: boolean;
}

export interface Strategy {
  readonly name: string;
  /** Chooses one endpoint, or undefined when the list (less exclusions) is empty. */
  pick(endpoints: readonly Endpoint[], context?: PickContext): Endpoint | undefined;
  /** A request was sent to the endpoint. */
  onStart?(endpointId: string): void;
  /** That request finished. */
  onEnd?(endpointId: string, outcome: RequestOutcome): void;
}

export type StrategyFactory = () => Strategy;

export type { RandomSource } from './endpoints.ts';
export { weightOf } from './endpoints.ts';
export { hashString } from './hash.ts';
export { EndpointLoad } from './load.ts';
export { roundRobin } from './round-robin.ts';
export { smoothWeightedRoundRobin } from './weighted-round-robin.ts';
export { random, weightedRandom, type RandomOptions } from './random.ts';
export { leastOutstanding } from './least-outstanding.ts';
export { powerOfTwoChoices, type PowerOfTwoOptions } from './power-of-two.ts';
export { peakEwma, type PeakEwmaOptions } from './peak-ewma.ts';
export { ipHash } from './ip-hash.ts';
export { consistentHash, type ConsistentHashOptions } from './consistent-hash.ts';
export { maglev, type MaglevOptions } from './maglev.ts';
export { builtinStrategies, createStrategy } from './registry.ts';
