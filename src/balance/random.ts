import type { Endpoint, PickContext, Strategy } from './index.ts';
import { candidateIndex, countCandidates, weightOf, type RandomSource } from './endpoints.ts';

export interface RandomOptions {
  /** Uniform source in [0, 1); Math.random when absent. */
  random?: RandomSource;
}

/** Uniformly random among the endpoints not excluded. */
export function random(options: RandomOptions = {}): Strategy {
  const next = options.random ?? Math.random;
  return {
    name: 'random',
    pick(endpoints: readonly Endpoint[], context?: PickContext): Endpoint | undefined {
      const exclude = context?.exclude;
      const count = countCandidates(endpoints, exclude);
      if (count === 0) return undefined;
      const ordinal = Math.min(Math.floor(next() * count), count - 1);
      return endpoints[candidateIndex(endpoints, exclude, ordinal)];
    },
  };
}

/** Random with probability proportional to weight among the endpoints not excluded. */
export function weightedRandom(options: RandomOptions = {}): Strategy {
  const next = options.random ?? Math.random;
  const uniform = random({ random: next });
  return {
    name: 'weighted-random',
    pick(endpoints: readonly Endpoint[], context?: PickContext): Endpoint | undefined {
      const exclude = context?.exclude;
      let total = 0;
      let last = -1;
      for (let i = 0; i < endpoints.length; i++) {
        if (exclude !== undefined && exclude.has(endpoints[i].id)) continue;
        const weight = weightOf(endpoints[i]);
        total += weight;
        if (weight > 0) last = i;
      }
      // Only drained endpoints remain (or none): they share equally rather than none being chosen.
      if (total === 0) return uniform.pick(endpoints, context);
      let target = next() * total;
      for (let i = 0; i < endpoints.length; i++) {
        if (exclude !== undefined && exclude.has(endpoints[i].id)) continue;
        const weight = weightOf(endpoints[i]);
        if (target < weight && weight > 0) return endpoints[i];
        target -= weight;
      }
      // Rounding can leave a sliver past the last weight; it belongs to the last endpoint.
      return endpoints[last];
    },
  };
}
