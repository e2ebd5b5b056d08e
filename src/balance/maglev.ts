import type { Endpoint, PickContext, Strategy } from './index.ts';
import { EndpointSnapshot } from './endpoints.ts';
import { hashString } from './hash.ts';
import { roundRobin } from './round-robin.ts';

export interface MaglevOptions {
  /** Lookup table size; must be prime, and well above the endpoint count (the paper uses > 100×). */
  tableSize?: number;
}

const OFFSET_SEED = 0x2545f491;
const SKIP_SEED = 0x6c8e9cf5;

/**
 * Google's Maglev hashing: every endpoint walks its own permutation of a prime-sized table,
 * taking turns claiming free slots, so slots split almost exactly evenly (in proportion to
 * weight) and a change of endpoints moves few keys. A key's hash indexes the table; excluded
 * endpoints are passed over by moving to the next slot. Without a key, round robin.
 */
export function maglev(options: MaglevOptions = {}): Strategy {
  const tableSize = options.tableSize ?? 65_537;
  if (!isPrime(tableSize)) throw new Error(`maglev: tableSize must be a prime number, got ${tableSize}`);
  const snapshot = new EndpointSnapshot();
  const fallback = roundRobin();
  let table: Int32Array = new Int32Array(0);

  return {
    name: 'maglev',
    pick(endpoints: readonly Endpoint[], context?: PickContext): Endpoint | undefined {
      if (endpoints.length === 0) return undefined;
      const key = context?.key;
      if (key === undefined) return fallback.pick(endpoints, context);
      if (snapshot.refresh(endpoints)) {
        table = buildMaglevTable(snapshot.ids, snapshot.weights, snapshot.indicesById(), tableSize);
      }
      const exclude = context?.exclude;
      const start = hashString(key) % tableSize;
      if (exclude === undefined || exclude.size === 0) return endpoints[table[start]];
      for (let step = 0; step < tableSize; step++) {
        const endpoint = endpoints[table[(start + step) % tableSize]];
        if (!exclude.has(endpoint.id)) return endpoint;
      }
      // Only drained endpoints (absent from the table) remain.
      return fallback.pick(endpoints, context);
    },
  };
}

/**
 * The Maglev population loop (paper, Algorithm 1) with weights: each round, an endpoint gains
 * weight/maxWeight credit and claims one slot per whole credit. `order` fixes the turn order
 * (by id) so every process builds the same table from the same endpoints.
 */
function buildMaglevTable(
  ids: readonly string[],
  weights: readonly number[],
  order: readonly number[],
  tableSize: number,
): Int32Array {
  const table = new Int32Array(tableSize).fill(-1);
  const n = ids.length;
  if (n === 0) return table;
  const maxWeight = Math.max(...weights);
  const share = new Float64Array(n);
  for (let i = 0; i < n; i++) share[i] = maxWeight > 0 ? weights[i] / maxWeight : 1;
  const position = new Float64Array(n);
  const skip = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    position[i] = hashString(ids[i], OFFSET_SEED) % tableSize;
    skip[i] = (hashString(ids[i], SKIP_SEED) % (tableSize - 1)) + 1;
  }
  const credit = new Float64Array(n);
  let filled = 0;
  for (;;) {
    for (const i of order) {
      if (share[i] === 0) continue;
      credit[i] += share[i];
      while (credit[i] >= 1) {
        credit[i] -= 1;
        // tableSize is prime, so each endpoint's sequence visits every slot and finds a free one.
        let slot = position[i];
        while (table[slot] >= 0) slot = (slot + skip[i]) % tableSize;
        table[slot] = i;
        position[i] = (slot + skip[i]) % tableSize;
        if (++filled === tableSize) return table;
      }
    }
  }
}

function isPrime(value: number): boolean {
  if (!Number.isInteger(value) || value < 2) return false;
  for (let divisor = 2; divisor * divisor <= value; divisor++) if (value % divisor === 0) return false;
  return true;
}
