import type { Endpoint, PickContext, RequestOutcome, Strategy } from './index.ts';
import { candidateIndex, countCandidates, weightOf, type RandomSource } from './endpoints.ts';
import { EndpointLoad } from './load.ts';
import { loadScore } from './least-outstanding.ts';

export interface PowerOfTwoOptions {
  /** Uniform source in [0, 1); Math.random when absent. */
  random?: RandomSource;
}

/**
 * Power of two choices: two distinct endpoints at random, the one with fewer outstanding
 * requests per unit of weight wins. Nearly as even as least connections, without every
 * balancer herding onto the same idle endpoint.
 */
export function powerOfTwoChoices(options: PowerOfTwoOptions = {}): Strategy {
  const next = options.random ?? Math.random;
  const load = new EndpointLoad();
  return {
    name: 'p2c',
    pick(endpoints: readonly Endpoint[], context?: PickContext): Endpoint | undefined {
      const exclude = context?.exclude;
      const count = countCandidates(endpoints, exclude);
      if (count === 0) return undefined;
      if (count === 1) return endpoints[candidateIndex(endpoints, exclude, 0)];
      const pair = sampleTwo(endpoints, exclude, count, next);
      const a = endpoints[pair[0]];
      const b = endpoints[pair[1]];
      const scoreA = loadScore(load.outstanding(a.id), weightOf(a));
      const scoreB = loadScore(load.outstanding(b.id), weightOf(b));
      // The first sample is already random, so it takes ties.
      return scoreB < scoreA ? b : a;
    },
    onStart(endpointId: string): void {
      load.start(endpointId);
    },
    onEnd(endpointId: string, _outcome: RequestOutcome): void {
      load.end(endpointId);
    },
  };
}

/** Reused result pair so sampling allocates nothing per pick. */
const sampled: [number, number] = [0, 0];

/**
 * Indices of two distinct non-excluded endpoints drawn uniformly; `count` (at least 2) is
 * how many remain. The returned pair is overwritten by the next call.
 */
export function sampleTwo(
  endpoints: readonly Endpoint[],
  exclude: ReadonlySet<string> | undefined,
  count: number,
  next: RandomSource,
): readonly [number, number] {
  const first = Math.min(Math.floor(next() * count), count - 1);
  let second = Math.min(Math.floor(next() * (count - 1)), count - 2);
  if (second >= first) second++;
  sampled[0] = candidateIndex(endpoints, exclude, first);
  sampled[1] = candidateIndex(endpoints, exclude, second);
  return sampled;
}
