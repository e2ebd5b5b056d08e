import type { Endpoint, PickContext, Strategy } from './index.ts';
import { EndpointSnapshot } from './endpoints.ts';
import { HASH_SPACE, hashString, mix32 } from './hash.ts';
import { roundRobin } from './round-robin.ts';

/** nginx retries this many rehashes before walking the list in order. */
const REHASH_ATTEMPTS = 20;

/**
 * nginx-like ip_hash: the key (the client address) hashes onto a weighted span of the endpoint
 * list, so one client keeps reaching one endpoint while the list is unchanged. An excluded
 * endpoint's clients are rehashed, spreading them over the others; without a key, round robin.
 */
export function ipHash(): Strategy {
  const snapshot = new EndpointSnapshot();
  const fallback = roundRobin();
  /** Endpoint indices ordered by id, and the running weight total up to and including each. */
  let owners = new Int32Array(0);
  let cumulative = new Float64Array(0);
  let total = 0;

  function rebuild(): void {
    const order = snapshot.indicesById();
    const weights = snapshot.weights;
    const allDrained = weights.every((weight) => weight === 0);
    owners = Int32Array.from(order);
    cumulative = new Float64Array(order.length);
    total = 0;
    for (let rank = 0; rank < order.length; rank++) {
      total += allDrained ? 1 : weights[order[rank]];
      cumulative[rank] = total;
    }
  }

  /** Rank whose weighted span holds the hash: the first running total above its point. */
  function rankOf(hash: number): number {
    const point = (hash / HASH_SPACE) * total;
    let low = 0;
    let high = cumulative.length - 1;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (cumulative[middle] > point) high = middle;
      else low = middle + 1;
    }
    return low;
  }

  return {
    name: 'ip-hash',
    pick(endpoints: readonly Endpoint[], context?: PickContext): Endpoint | undefined {
      if (endpoints.length === 0) return undefined;
      const key = context?.key;
      if (key === undefined) return fallback.pick(endpoints, context);
      if (snapshot.refresh(endpoints)) rebuild();
      const exclude = context?.exclude;
      let hash = hashString(key);
      let rank = rankOf(hash);
      if (exclude === undefined || exclude.size === 0) return endpoints[owners[rank]];
      for (let attempt = 0; attempt < REHASH_ATTEMPTS; attempt++) {
        const endpoint = endpoints[owners[rank]];
        if (!exclude.has(endpoint.id)) return endpoint;
        hash = mix32(hash + 0x9e3779b9);
        rank = rankOf(hash);
      }
      for (let step = 0; step < owners.length; step++) {
        const endpoint = endpoints[owners[(rank + step) % owners.length]];
        if (!exclude.has(endpoint.id)) return endpoint;
      }
      return undefined;
    },
  };
}
