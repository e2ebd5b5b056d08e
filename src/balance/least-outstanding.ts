import type { Endpoint, PickContext, RequestOutcome, Strategy } from './index.ts';
import { weightOf } from './endpoints.ts';
import { EndpointLoad } from './load.ts';
import { SmoothWeights } from './smooth-weights.ts';

/**
 * Weighted least connections, as nginx's least_conn: the endpoint with the fewest outstanding
 * requests per unit of weight; ties go by smooth weighted round robin, so equal endpoints
 * share and weights still count when requests never overlap.
 */
export function leastOutstanding(): Strategy {
  const load = new EndpointLoad();
  const ties = new SmoothWeights();
  return {
    name: 'least-conn',
    pick(endpoints: readonly Endpoint[], context?: PickContext): Endpoint | undefined {
      if (endpoints.length === 0) return undefined;
      const exclude = context?.exclude;
      let best = Infinity;
      let found = false;
      for (let i = 0; i < endpoints.length; i++) {
        const endpoint = endpoints[i];
        if (exclude !== undefined && exclude.has(endpoint.id)) continue;
        const score = loadScore(load.outstanding(endpoint.id), weightOf(endpoint));
        if (!found || score < best) best = score;
        found = true;
      }
      if (!found) return undefined;
      const eligible = ties.prepare(endpoints);
      for (let i = 0; i < endpoints.length; i++) {
        const endpoint = endpoints[i];
        if (exclude !== undefined && exclude.has(endpoint.id)) continue;
        if (loadScore(load.outstanding(endpoint.id), weightOf(endpoint)) === best) eligible[i] = 1;
      }
      return ties.choose(endpoints);
    },
    onStart(endpointId: string): void {
      load.start(endpointId);
    },
    onEnd(endpointId: string, _outcome: RequestOutcome): void {
      load.end(endpointId);
    },
  };
}

/** Outstanding requests per unit of weight; a drained endpoint scores worst of all. */
export function loadScore(outstanding: number, weight: number): number {
  return weight > 0 ? outstanding / weight : Infinity;
}
