import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { configFromModule, serviceKey, type AnyService, type Logger } from '../../core/index.ts';
import { createLogger, createMetrics, createObservabilityServer, startTracing } from '../../observe/index.ts';
import { dataHostFromConfig, drainTimeoutOf } from '../../data/index.ts';
import { ServiceBroker, nodeService } from '../../runtime/index.ts';
import { clusterDrivers } from '../connect.ts';
import { parseRoleArgs, required } from './args.ts';
import { builtinPlugins } from './plugins.ts';
import { exitOnShutdown, requireSecret, signalReady } from './process-lifecycle.ts';

/** A node process: hosts the application's services and serves calls from its peers. */
export async function runNode(argv: readonly string[]): Promise<void> {
  const args = parseRoleArgs(argv);
  const secret = requireSecret();
  const controlUrl = required(args.control, 'control');
  const configPath = resolve(required(args.config, 'config'));
  const httpPort = required(args.httpPort, 'http-port');
  const logger = createLogger({ nodeId: args.id, role: 'node' });
  startTracing({ serviceName: 'shoal-node', nodeId: args.id });
  const metrics = createMetrics({ nodeId: args.id, role: 'node' });
  const config = configFromModule(await import(pathToFileURL(configPath).href), configPath);
  const connection = clusterDrivers({ controlUrl, secret, clientId: args.id, logger });
  const { coordinator, transport } = connection;
  const data = dataHostFromConfig({ nodeId: args.id, dir: args.dir, coordinator, logger, config, ...(args.zone !== undefined ? { zone: args.zone } : {}) });
  const startedAt = Date.now();
  const facts = {
    nodeId: args.id,
    startedAt,
    services: () => broker.services.map((s) => `${s.name}@${s.version}`),
    health: () => broker.health(),
    inflight: () => broker.inflight,
    faults: connection.faults,
  };
  const broker: ServiceBroker = new ServiceBroker({
    nodeId: args.id,
    role: 'node',
    transport,
    coordinator,
    listen: { host: args.host, port: required(args.transportPort, 'transport-port') },
    services: [...config.services.map((s) => namedStartHook(s, logger)), nodeService(facts), ...(data ? [data.service] : [])],
    ...(data ? { contextExtensions: data.contextExtensions() } : {}),
    plugins: builtinPlugins(logger, metrics, config.plugins),
    ...(config.balancing ? { defaultStrategy: config.balancing } : {}),
    ...(config.callTimeoutMs ? { defaultTimeoutMs: config.callTimeoutMs } : {}),
    logger,
    httpUrl: `http://${args.host}:${httpPort}`,
    ...(args.zone !== undefined ? { zone: args.zone } : {}),
  });
  const http = await createObservabilityServer({
    host: args.host,
    port: httpPort,
    metrics,
    health: () => ({ nodeId: args.id, role: 'node', status: broker.health(), pid: process.pid, services: facts.services(), dataDir: join(args.dir, 'data', args.id), ...(args.zone !== undefined ? { zone: args.zone } : {}) }),
  });
  exitOnShutdown(logger, async ({ decommission }) => {
    // A node leaving for good moves its slots to the others first; one stopping with the whole
    // cluster keeps them on disk for its restart (a crash leaves them to the rebalancer).
    if (decommission) await data?.drain(drainTimeoutOf(config)).catch((err: unknown) => logger.warn({ err: String(err) }, 'data drain failed'));
    await broker.stop();
    await data?.stop();
    await http.close();
    await connection.close();
  });
  // A service that cannot start leaves the node unready: it exits before signalling ready, so
  // the supervisor reports the error (which names the service) and the cluster does not start.
  await broker.start();
  await data?.start(broker);
  logger.info({ transport: broker.listenAddress, http: http.url, services: facts.services() }, 'node ready');
  signalReady({ id: args.id, address: broker.listenAddress, httpUrl: http.url });
}

/**
 * The service with its `started` hook's failure naming it: the error reaches the supervisor
 * only as the last lines of this node's log, where a bare "boom" would not say whose it was.
 */
function namedStartHook(service: AnyService, logger: Logger): AnyService {
  const started = service.started;
  if (!started) return service;
  const key = serviceKey(service.name, service.version);
  return {
    ...service,
    started: async (ctx) => {
      try {
        await started(ctx);
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        logger.error({ service: key, err: message, stack: err instanceof Error ? err.stack : undefined }, 'service started hook failed');
        throw new Error(`service ${key} failed to start: its started hook threw: ${message}`, { cause: err });
      }
    },
  };
}
