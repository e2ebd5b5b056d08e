import type { Endpoint } from './index.ts';

/** A source of uniform numbers in [0, 1); injectable so randomized strategies can be tested. */
export type RandomSource = () => number;

/**
 * An endpoint's effective weight: 1 when absent, 0 for non-positive or non-finite values
 * (a drained endpoint is chosen only when every remaining one is drained too).
 */
export function weightOf(endpoint: Endpoint): number {
  const weight = endpoint.weight;
  if (weight === undefined) return 1;
  return weight > 0 && weight < Infinity ? weight : 0;
}

/** How many endpoints remain once exclusions are taken out. */
export function countCandidates(endpoints: readonly Endpoint[], exclude: ReadonlySet<string> | undefined): number {
  if (exclude === undefined || exclude.size === 0) return endpoints.length;
  let count = 0;
  for (let i = 0; i < endpoints.length; i++) if (!exclude.has(endpoints[i].id)) count++;
  return count;
}

/** Index in `endpoints` of the `ordinal`-th endpoint that is not excluded. */
export function candidateIndex(
  endpoints: readonly Endpoint[],
  exclude: ReadonlySet<string> | undefined,
  ordinal: number,
): number {
  if (exclude === undefined || exclude.size === 0) return ordinal;
  let seen = 0;
  for (let i = 0; i < endpoints.length; i++) {
    if (exclude.has(endpoints[i].id)) continue;
    if (seen === ordinal) return i;
    seen++;
  }
  return -1;
}

/**
 * The last endpoint list a strategy derived state from (a ring, a table, weights), kept as
 * ids and weights so a change is noticed even when the caller passes a fresh array each time
 * or mutates one in place. Comparing is O(n) without allocation; rebuilding happens only on change.
 */
export class EndpointSnapshot {
  ids: string[] = [];
  weights: number[] = [];

  /** Captures the list and returns true when it differs from the one captured before. */
  refresh(endpoints: readonly Endpoint[]): boolean {
    const n = endpoints.length;
    let same = n === this.ids.length;
    for (let i = 0; same && i < n; i++) {
      same = endpoints[i].id === this.ids[i] && weightOf(endpoints[i]) === this.weights[i];
    }
    if (same) return false;
    this.ids = endpoints.map((endpoint) => endpoint.id);
    this.weights = endpoints.map(weightOf);
    return true;
  }

  /**
   * Indices ordered by id, so state built from them (rings, tables) is the same on every
   * process that sees the same endpoints, whatever order each received them in.
   */
  indicesById(): number[] {
    const ids = this.ids;
    return ids.map((_, i) => i).sort((a, b) => (ids[a] < ids[b] ? -1 : ids[a] > ids[b] ? 1 : a - b));
  }
}
