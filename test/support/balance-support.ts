import type { Endpoint, PickContext, Strategy } from '../../src/balance/index.ts';

export { seededRandom } from '../../src/core/index.ts';

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
