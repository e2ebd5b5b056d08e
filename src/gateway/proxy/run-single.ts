import { hostname } from 'node:os';
import { createMetrics } from '../../observe/index.ts';
import { watchConfig } from './config-watch.ts';
import { startLbAdmin, type LbAdmin } from './lb-admin.ts';
import { createLbLoggers } from './lb-logging.ts';
import { createLbMetrics } from './lb-metrics.ts';
import { printAddresses, rereadConfig, restartOnlyChanges, shutdownSignal, withOverrides, type LbRunOptions } from './lb-process.ts';
import { LoadBalancer } from './load-balancer.ts';

/**
 * Runs the balancer in this process until SIGTERM or SIGINT, reloading on a config file
 * change or SIGHUP. Resolves with the exit code once requests in flight have finished.
 */
export async function runSingleProcess(options: LbRunOptions): Promise<number> {
  const { logger, accessLog, flush } = createLbLoggers();
  const config = withOverrides(options.config, options);
  const metrics = config.admin ? createMetrics({ nodeId: hostname(), role: 'lb' }) : undefined;
  const balancer = await LoadBalancer.start(config, { logger, accessLog, metrics: metrics ? createLbMetrics(metrics.registry) : undefined });
  let admin: LbAdmin | undefined;
  if (config.admin && metrics) {
    try {
      admin = await startLbAdmin({ host: config.admin.address.host, port: config.admin.address.port, headersTimeout: config.admin.headersTimeout, metrics, health: () => balancer.health() });
    } catch (err) {
      await balancer.close(0);
      throw err;
    }
  }

  let reloading = Promise.resolve();
  const stopWatching = watchConfig(options.configPath, (why) => {
    reloading = reloading.then(async () => {
      const next = await rereadConfig(options, logger);
      if (next === undefined) return;
      const fixed = restartOnlyChanges(balancer.config, next);
      if (fixed.length > 0) logger.warn({ settings: fixed }, 'these settings change only on restart');
      try {
        await balancer.reload(next);
        logger.info({ why }, 'reloaded');
      } catch (err) {
        logger.error({ err: (err as Error).message }, 'reload failed, the running config stays');
      }
    });
  });

  // Printed once reloads are watched for, so whoever waits for this line may change the file at once.
  printAddresses(options.out ?? process.stdout, balancer.addresses(), admin?.url);

  const signal = await shutdownSignal();
  logger.info({ signal }, 'shutting down: finishing requests in flight');
  stopWatching();
  await reloading;
  await balancer.close(options.shutdownTimeoutMs ?? 30_000);
  await admin?.close();
  flush();
  return 0;
}
