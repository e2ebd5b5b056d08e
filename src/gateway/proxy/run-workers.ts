import cluster, { type Worker } from 'node:cluster';
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import { AggregatorRegistry } from 'prom-client';
import { createMetrics, type Metrics } from '../../observe/index.ts';
import type { LbConfig } from './config-schema.ts';
import { watchConfig } from './config-watch.ts';
import { startLbAdmin, type LbAdmin } from './lb-admin.ts';
import { createLbLoggers } from './lb-logging.ts';
import { printAddresses, rereadConfig, restartOnlyChanges, shutdownSignal, withOverrides, type LbRunOptions } from './lb-process.ts';
import type { ListenerAddress } from './load-balancer.ts';
import { isWorkerMessage, WORKER_CONFIG_ENV, type PrimaryMessage } from './worker-messages.ts';

/** A worker that crashes sooner than this after starting is restarted after a pause. */
const CRASH_LOOP_MS = 5000;

/** Asks a worker to stop (SIGTERM, so it drains), killing it when it takes longer than `killAfterMs`. */
function stopWorker(worker: Worker, killAfterMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    if (worker.isDead()) return resolve();
    const kill = setTimeout(() => worker.process.kill('SIGKILL'), killAfterMs);
    worker.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    worker.process.kill('SIGTERM');
  });
}

/** The primary's admin listener: the workers' metrics summed, and their pids as its health. */
function startAdmin(admin: NonNullable<LbConfig['admin']>, workerPids: () => (number | undefined)[]): Promise<LbAdmin> {
  const aggregator = new AggregatorRegistry();
  const own = createMetrics({ nodeId: hostname(), role: 'lb-primary' });
  const metrics: Metrics = { ...own, contentType: aggregator.contentType, metricsText: () => aggregator.clusterMetrics() };
  return startLbAdmin({ host: admin.address.host, port: admin.address.port, headersTimeout: admin.headersTimeout, metrics, health: () => ({ status: 'ok', workers: workerPids() }) });
}

/**
 * Runs `count` worker processes sharing the listeners (node:cluster), as the primary: it
 * starts them, restarts one that crashes, turns SIGHUP and config file changes into reload
 * messages, and on SIGTERM or SIGINT stops them gracefully. With an admin listener, it
 * serves the workers' metrics summed.
 */
export async function runWorkers(options: LbRunOptions, count: number): Promise<number> {
  const { logger } = createLbLoggers('lb-primary');
  let config = withOverrides(options.config, options);
  // worker-entry.ts beside the sources, worker-entry.js in an installed package's dist/.
  const workerEntry = new URL(`./worker-entry${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);
  cluster.setupPrimary({ exec: fileURLToPath(workerEntry), args: [], silent: false });
  let stopping = false;
  const started = new Map<Worker, number>();

  function fork(): Worker {
    const worker = cluster.fork({ [WORKER_CONFIG_ENV]: JSON.stringify(config) });
    started.set(worker, Date.now());
    return worker;
  }

  // Every worker must start listening before the balancer counts as started.
  const listening = new Promise<ListenerAddress[]>((resolve, reject) => {
    let ready = 0;
    for (let i = 0; i < count; i++) {
      const worker = fork();
      const onMessage = (message: unknown): void => {
        if (!isWorkerMessage(message)) return;
        worker.off('message', onMessage);
        if (message.type === 'shoal-lb:failed') {
          reject(new Error(message.message));
          return;
        }
        if (++ready === count) resolve(message.addresses);
      };
      worker.on('message', onMessage);
    }
  });
  cluster.on('exit', (worker, code, signal) => {
    const startedAt = started.get(worker) ?? 0;
    started.delete(worker);
    if (stopping) return;
    logger.error({ pid: worker.process.pid, code, signal }, 'worker exited; starting another');
    const delay = Date.now() - startedAt < CRASH_LOOP_MS ? 1000 : 0;
    setTimeout(() => {
      if (!stopping) fork();
    }, delay).unref();
  });

  let admin: LbAdmin | undefined;
  let addresses: ListenerAddress[];
  const stopWorkers = async (): Promise<void> => {
    stopping = true;
    const workers = Object.values(cluster.workers ?? {}).filter((worker): worker is Worker => worker !== undefined);
    // Past the workers' own shutdown timeout, with a margin for their exit.
    const killAfterMs = (options.shutdownTimeoutMs ?? 30_000) + 5000;
    await Promise.all(workers.map((worker) => stopWorker(worker, killAfterMs)));
    await admin?.close();
  };

  try {
    if (config.admin) admin = await startAdmin(config.admin, () => [...started.keys()].map((worker) => worker.process.pid));
    addresses = await listening;
  } catch (err) {
    await stopWorkers();
    throw err;
  }

  let reloading = Promise.resolve();
  const stopWatching = watchConfig(options.configPath, (why) => {
    reloading = reloading.then(async () => {
      const next: LbConfig | undefined = await rereadConfig(options, logger);
      if (next === undefined) return;
      const fixed = restartOnlyChanges(config, next);
      if (fixed.length > 0) logger.warn({ settings: fixed }, 'these settings change only on restart');
      config = { ...next, admin: config.admin, workers: config.workers };
      const message: PrimaryMessage = { type: 'shoal-lb:reload', config };
      for (const worker of Object.values(cluster.workers ?? {})) worker?.send(message);
      logger.info({ why }, 'reload sent to workers');
    });
  });

  // Printed once reloads are watched for, so whoever waits for this line may change the file at once.
  printAddresses(options.out ?? process.stdout, addresses, admin?.url);

  const signal = await shutdownSignal();
  logger.info({ signal }, 'shutting down workers');
  stopWatching();
  await reloading;
  await stopWorkers();
  return 0;
}
