import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ADMIN_TOKEN_ENV, configFromModule, type ShoalConfig } from '../../core/index.ts';
import { rateLimitConfig, startGateway } from '../../gateway/index.ts';
import { createLogger, createMetrics, startTracing } from '../../observe/index.ts';
import { ServiceBroker } from '../../runtime/index.ts';
import { clusterDrivers } from '../connect.ts';
import { parseRoleArgs, required } from './args.ts';
import { builtinPlugins } from './plugins.ts';
import { exitOnShutdown, requireSecret, signalReady } from './process-lifecycle.ts';

/** A gateway process: the cluster's HTTP entry, calling nodes through the same runtime they use. */
export async function runGateway(argv: readonly string[]): Promise<void> {
  const args = parseRoleArgs(argv);
  const secret = requireSecret();
  const logger = createLogger({ nodeId: args.id, role: 'gateway' });
  // The gateway needs the application's config only for its own settings and plugins.
  const config: ShoalConfig | undefined = args.config
    ? configFromModule(await import(pathToFileURL(resolve(args.config)).href), args.config)
    : undefined;
  startTracing({ serviceName: 'shoal-gateway', nodeId: args.id });
  const metrics = createMetrics({ nodeId: args.id, role: 'gateway' });
  const connection = clusterDrivers({ controlUrl: required(args.control, 'control'), secret, clientId: args.id, logger });
  const { coordinator, transport } = connection;
  const port = required(args.port, 'port');
  const broker = new ServiceBroker({
    nodeId: args.id,
    role: 'gateway',
    httpUrl: `http://${args.host}:${port}`,
    transport,
    coordinator,
    plugins: builtinPlugins(logger, metrics, config?.plugins),
    ...(config?.gateway?.balancing ? { balancing: config.gateway.balancing } : {}),
    ...(config?.callTimeoutMs ? { defaultTimeoutMs: config.callTimeoutMs } : {}),
    logger,
  });
  const gateway = await startGateway({ id: args.id, broker, host: args.host, port, logger, metrics, adminToken: process.env[ADMIN_TOKEN_ENV], ...(config?.gateway?.maxBodyBytes ? { maxBodyBytes: config.gateway.maxBodyBytes } : {}),
    ...(config?.gateway?.rateLimit ? { rateLimit: rateLimitConfig(config.gateway.rateLimit) } : {}),
  });
  exitOnShutdown(logger, async () => {
    await gateway.close();
    await broker.stop();
    await connection.close();
  });
  await broker.start();
  logger.info({ url: gateway.url }, 'gateway ready');
  signalReady({ id: args.id, url: gateway.url });
}
