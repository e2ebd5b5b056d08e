/** The cluster config of the data suite: the collections the bench's client reads and writes. */
import { defineConfig, type ShoalConfig } from '../../src/core/index.ts';
import { defineCollection, type DataConfig } from '../../src/data/index.ts';
import type { Sale } from './workload.ts';

/** 1 KiB documents for single-key get and put, one per key. */
export const docs = defineCollection<{ id: string; rev: number; pad: string }>({ name: 'docs', key: 'id' });

/** Small documents for the cross-shard aggregate, with an index on the filtered field (PostgreSQL gets the same). */
export const sales = defineCollection<Sale>({
  name: 'sales',
  key: 'id',
  indexes: [{ name: 'amount', fields: ['amount'] }],
});

/** The data settings of the bench's configs (`replicas`: copies of each shard; default 3). */
export type BenchDataConfig = DataConfig;

/** The suite's config with the given data settings; each cluster-config*.ts exports one. */
export function benchConfig(data: BenchDataConfig): ShoalConfig {
  return defineConfig({ services: [], collections: [docs, sales], data });
}

// The bench throws its data away: a stopping node need not move its slots elsewhere first.
export default benchConfig({ drainTimeoutMs: 1_000 });
