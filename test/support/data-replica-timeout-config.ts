/**
 * A cluster config for tests where a node stays dead: three replicas per shard, and a replica
 * timeout short enough that the rebuild on other nodes starts within the test.
 */
import { defineConfig } from '../../src/core/index.ts';
import { records } from './data-cluster-config.ts';

export default defineConfig({
  services: [],
  collections: [records],
  data: { replicas: 3, replicaTimeout: 5_000 },
} as Parameters<typeof defineConfig>[0]);
