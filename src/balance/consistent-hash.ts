import type { Endpoint, PickContext, Strategy } from './index.ts';
import { EndpointSnapshot } from './endpoints.ts';
import { hashString, mix32 } from './hash.ts';
import { roundRobin } from './round-robin.ts';

export interface ConsistentHashOptions {
  /** Ring points for an endpoint of average weight; weights scale each endpoint's share. */
  virtualNodes?: number;
}

/** Ring points pack as hash × 2^21 + owner rank into one float, so one numeric sort orders them. */
const RANK_BITS = 2 ** 21;

/**
 * Consistent hashing on a ring of virtual nodes placed by endpoint id: a key goes to the first
 * point at or after its hash, so adding or removing one of N endpoints moves only about 1/N
 * of the keys. Excluded endpoints are passed over by walking on along the ring; without a key,
 * round robin.
 */
export function consistentHash(options: ConsistentHashOptions = {}): Strategy {
  const virtualNodes = options.virtualNodes ?? 160;
  if (!(Number.isInteger(virtualNodes) && virtualNodes > 0)) {
    throw new Error(`consistentHash: virtualNodes must be a positive integer, got ${virtualNodes}`);
  }
  const snapshot = new EndpointSnapshot();
  const fallback = roundRobin();
  let points = new Uint32Array(0);
  /** Index in the endpoint list owning each ring point. */
  let owners = new Int32Array(0);

  function rebuild(): void {
    const order = snapshot.indicesById();
    if (order.length >= RANK_BITS) throw new Error(`consistentHash: too many endpoints (${order.length})`);
    const weights = snapshot.weights;
    const positive = weights.filter((weight) => weight > 0);
    // Scaling by the mean weight keeps the ring near virtualNodes × N points whatever the units.
    const meanWeight = positive.length > 0 ? positive.reduce((sum, weight) => sum + weight, 0) / positive.length : 1;
    const counts = order.map((index) =>
      positive.length === 0 ? virtualNodes : weights[index] > 0 ? Math.max(1, Math.round((virtualNodes * weights[index]) / meanWeight)) : 0,
    );
    const packed = new Float64Array(counts.reduce((sum, count) => sum + count, 0));
    let at = 0;
    for (let rank = 0; rank < order.length; rank++) {
      const base = hashString(snapshot.ids[order[rank]]);
      for (let replica = 0; replica < counts[rank]; replica++) {
        const point = mix32(base + Math.imul(replica + 1, 0x9e3779b9));
        packed[at++] = point * RANK_BITS + rank;
      }
    }
    packed.sort();
    points = new Uint32Array(packed.length);
    owners = new Int32Array(packed.length);
    for (let i = 0; i < packed.length; i++) {
      const rank = packed[i] % RANK_BITS;
      points[i] = (packed[i] - rank) / RANK_BITS;
      owners[i] = order[rank];
    }
  }

  /** Position of the first ring point at or after the hash, wrapping past the end. */
  function positionOf(hash: number): number {
    let low = 0;
    let high = points.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (points[middle] < hash) low = middle + 1;
      else high = middle;
    }
    return low === points.length ? 0 : low;
  }

  return {
    name: 'consistent-hash',
    pick(endpoints: readonly Endpoint[], context?: PickContext): Endpoint | undefined {
      if (endpoints.length === 0) return undefined;
      const key = context?.key;
      if (key === undefined) return fallback.pick(endpoints, context);
      if (snapshot.refresh(endpoints)) rebuild();
      const exclude = context?.exclude;
      const start = positionOf(hashString(key));
      if (exclude === undefined || exclude.size === 0) return endpoints[owners[start]];
      for (let step = 0; step < points.length; step++) {
        const endpoint = endpoints[owners[(start + step) % points.length]];
        if (!exclude.has(endpoint.id)) return endpoint;
      }
      // Only drained endpoints (absent from the ring) remain.
      return fallback.pick(endpoints, context);
    },
  };
}
