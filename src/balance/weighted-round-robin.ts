import type { Endpoint, PickContext, Strategy } from './index.ts';
import { SmoothWeights } from './smooth-weights.ts';

/** nginx's smooth weighted round robin: weights 5/1/1 give a a b a c a a, repeated. */
export function smoothWeightedRoundRobin(): Strategy {
  const state = new SmoothWeights();
  return {
    name: 'weighted-round-robin',
    pick(endpoints: readonly Endpoint[], context?: PickContext): Endpoint | undefined {
      if (endpoints.length === 0) return undefined;
      const eligible = state.prepare(endpoints);
      const exclude = context?.exclude;
      for (let i = 0; i < endpoints.length; i++) {
        if (exclude === undefined || !exclude.has(endpoints[i].id)) eligible[i] = 1;
      }
      return state.choose(endpoints);
    },
  };
}
