/**
 * A worker process of a multi-worker balancer (started by node:cluster). Its listeners share
 * the primary's sockets; it runs its own health checks, takes new configs from the primary
 * and shuts down gracefully on SIGTERM or when the primary goes away.
 */
import { hostname } from 'node:os';
import { AggregatorRegistry } from 'prom-client';
import { createMetrics } from '../../observe/index.ts';
import type { LbConfig } from './config-schema.ts';
import { createLbLoggers } from './lb-logging.ts';
import { createLbMetrics } from './lb-metrics.ts';
import { LoadBalancer } from './load-balancer.ts';
import { isPrimaryMessage, WORKER_CONFIG_ENV, type WorkerMessage } from './worker-messages.ts';

function send(message: WorkerMessage): void {
  process.send?.(message);
}

const { logger, accessLog, flush } = createLbLoggers('lb-worker');
const config = JSON.parse(process.env[WORKER_CONFIG_ENV] ?? 'null') as LbConfig;
let metrics;
if (config.admin) {
  // The primary serves /metrics, summing what each worker's registry reports over IPC.
  const registry = createMetrics({ nodeId: hostname(), role: 'lb' }).registry;
  AggregatorRegistry.setRegistries(registry);
  new AggregatorRegistry();
  metrics = createLbMetrics(registry);
}

let balancer: LoadBalancer | undefined;
// A reload that arrives while the worker is still starting is applied right after.
let pending: LbConfig | undefined;
process.on('message', (message: unknown) => {
  if (!isPrimaryMessage(message)) return;
  if (balancer === undefined) pending = message.config;
  else balancer.reload(message.config).catch((err: unknown) => logger.error({ err: (err as Error).message }, 'reload failed, the running config stays'));
});

try {
  balancer = await LoadBalancer.start(config, { logger, accessLog, metrics, responseHeaders: ['x-shoal-lb-worker', String(process.pid)] });
} catch (err) {
  send({ type: 'shoal-lb:failed', message: err instanceof Error ? err.message : String(err) });
  process.exit(1);
}
send({ type: 'shoal-lb:listening', addresses: balancer.addresses() });
if (pending !== undefined) {
  await balancer.reload(pending).catch((err: unknown) => logger.error({ err: (err as Error).message }, 'reload failed, the running config stays'));
}
// The primary turns SIGHUP into a reload message; the signal itself must not end the worker.
process.on('SIGHUP', () => undefined);

let stopping = false;
async function stop(why: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ why }, 'worker shutting down: finishing requests in flight');
  await balancer?.close(30_000);
  flush();
  process.exit(0);
}
process.on('SIGTERM', () => void stop('SIGTERM'));
process.on('SIGINT', () => void stop('SIGINT'));
process.on('disconnect', () => void stop('primary gone'));
