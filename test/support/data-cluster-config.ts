/** A cluster config with a document collection, for tests that run real node processes. */
import { defineConfig } from '../../src/core/index.ts';
import { defineCollection } from '../../src/data/index.ts';

export const records = defineCollection<{ key: string; value: number; pad: string }>({ name: 'records', key: 'key' });

export default defineConfig({
  services: [],
  collections: [records],
  // Small, paced pages stretch each copy so a test can catch a move mid-copy.
  data: { rebalancer: { pageSize: 20, pagePauseMs: 15, rangeSize: 128 } },
} as Parameters<typeof defineConfig>[0]);
