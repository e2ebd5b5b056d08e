import type { Endpoint, PickContext, Strategy } from './index.ts';

/** Each endpoint in turn; excluded ones are stepped over without losing the turn order. */
export function roundRobin(): Strategy {
  let cursor = 0;
  return {
    name: 'round-robin',
    pick(endpoints: readonly Endpoint[], context?: PickContext): Endpoint | undefined {
      const n = endpoints.length;
      if (n === 0) return undefined;
      const exclude = context?.exclude;
      // The list may have shrunk since the last pick, so the cursor is reduced here.
      let index = cursor % n;
      for (let step = 0; step < n; step++) {
        const endpoint = endpoints[index];
        if (exclude === undefined || !exclude.has(endpoint.id)) {
          cursor = index + 1;
          return endpoint;
        }
        index = index + 1 === n ? 0 : index + 1;
      }
      return undefined;
    },
  };
}
