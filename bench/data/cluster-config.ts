/** The cluster config of the data suite: the collections the bench's client reads and writes. */
import { defineConfig } from '../../src/core/index.ts';
import { defineCollection } from '../../src/data/index.ts';
import type { Sale } from './workload.ts';

/** 1 KiB documents for single-key get and put, one per key. */
export const docs = defineCollection<{ id: string; rev: number; pad: string }>({ name: 'docs', key: 'id' });

/** Small documents for the cross-shard aggregate, with an index on the filtered field (PostgreSQL gets the same). */
export const sales = defineCollection<Sale>({
  name: 'sales',
  key: 'id',
  indexes: [{ name: 'amount', fields: ['amount'] }],
});

export default defineConfig({
  services: [],
  collections: [docs, sales],
  // The bench throws its data away: a stopping node need not move its slots elsewhere first.
  data: { drainTimeoutMs: 1_000 },
} as Parameters<typeof defineConfig>[0]);
