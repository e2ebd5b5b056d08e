/** The data suite's cluster with one copy of each shard, named explicitly (the `shoal-rf1` rows). */
import { benchConfig } from './cluster-config.ts';

export default benchConfig({ replicas: 1, drainTimeoutMs: 1_000 });
