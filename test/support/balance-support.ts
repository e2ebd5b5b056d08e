import type { Endpoint, PickContext, Strategy } from '../../src/balance/index.ts';

/** mulberry32: a small seeded generator, so randomized strategies give repeatable picks. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function endpointsNamed(...ids: string[]): Endpoint[] {
  return ids.map((id) => ({ id }));
}

/** Picks `times` times and counts the chosen ids; a pick of nothing fails loudly. */
export function countPicks(
  strategy: Strategy,
  endpoints: readonly Endpoint[],
  times: number,
  context?: (i: number) => PickContext,
): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < times; i++) {
    const chosen = strategy.pick(endpoints, context?.(i));
    if (chosen === undefined) throw new Error(`pick ${i} returned undefined`);
    counts.set(chosen.id, (counts.get(chosen.id) ?? 0) + 1);
  }
  return counts;
}
