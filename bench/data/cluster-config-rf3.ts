/**
 * The data suite's cluster with three copies of each shard (the `shoal-rf3` rows): a write is
 * acknowledged once two of them have it durable.
 */
import { benchConfig } from './cluster-config.ts';

export default benchConfig({ replicas: 3, drainTimeoutMs: 1_000 });
