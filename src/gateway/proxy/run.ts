import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import type { LbRunOptions } from './lb-process.ts';
import { runSingleProcess } from './run-single.ts';
import { runWorkers } from './run-workers.ts';

/** How many worker processes a `workers` setting means. */
export function workerCount(workers: number | 'auto'): number {
  return workers === 'auto' ? availableParallelism() : workers;
}

/**
 * Runs the standalone load balancer until SIGTERM or SIGINT and resolves with the exit code:
 * in this process, or with several workers as their primary.
 */
export function runLoadBalancer(options: LbRunOptions): Promise<number> {
  const count = workerCount(options.config.workers);
  if (count > 1 && cluster.isPrimary) return runWorkers(options, count);
  return runSingleProcess(options);
}
