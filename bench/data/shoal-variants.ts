/**
 * Which Shoal clusters the data suite runs, one after another. By default one, from
 * cluster-config.ts, with rows named `shoal` (the default: 3 replicas per shard).
 * BENCH_SHOAL_REPLICAS=1,3 runs one cluster per listed replica count instead, each from its own
 * config file passing `data.replicas`, with rows named `shoal-rf1`, `shoal-rf3` (each shard on
 * 3 nodes, a write acknowledged once 2 have it durable).
 */
import { fileURLToPath } from 'node:url';
import { configPath } from './cluster.ts';

export interface ShoalVariant {
  /** The `system` of its result rows. */
  system: string;
  /** The `data.replicas` its config passes; undefined for the default config, which passes none. */
  replicas: number | undefined;
  config: string;
}

const configs: Record<number, string> = {
  1: fileURLToPath(new URL('./cluster-config-rf1.ts', import.meta.url)),
  3: fileURLToPath(new URL('./cluster-config-rf3.ts', import.meta.url)),
};

export function shoalVariants(): ShoalVariant[] {
  const raw = process.env.BENCH_SHOAL_REPLICAS;
  if (raw === undefined || raw.trim() === '') return [{ system: 'shoal', replicas: undefined, config: configPath }];
  const counts = raw.split(',').map((s) => s.trim());
  if (new Set(counts).size !== counts.length) throw new Error(`BENCH_SHOAL_REPLICAS lists a replica count twice: ${JSON.stringify(raw)}`);
  const known = Object.keys(configs).join(', ');
  return counts.map((text) => {
    const replicas = Number(text);
    const config = configs[replicas];
    if (!config) throw new Error(`BENCH_SHOAL_REPLICAS lists ${JSON.stringify(text)}; each entry must be one of ${known} (a bench/data/cluster-config-rf<N>.ts)`);
    return { system: `shoal-rf${replicas}`, replicas, config };
  });
}

/** How a variant's cluster is described when it starts. */
export function describeReplicas(variant: ShoalVariant): string {
  if (variant.replicas === undefined) return 'one replica per shard';
  return `data.replicas = ${variant.replicas}`;
}
