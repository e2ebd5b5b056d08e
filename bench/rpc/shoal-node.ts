import type { AnyService } from '../../src/core/index.ts';
import { clusterDrivers } from '../../src/cluster/index.ts';
import { builtinPlugins } from '../../src/cluster/roles/plugins.ts';
import { createLogger, createMetrics, createObservabilityServer, startTracing } from '../../src/observe/index.ts';
import { nodeService, ServiceBroker } from '../../src/runtime/index.ts';

export interface BenchNode {
  broker: ServiceBroker;
  close(): Promise<void>;
}

/**
 * A Shoal node composed the way src/cluster/roles/node.ts composes one: pino logger, tracing,
 * Prometheus metrics, the embedded coordinator client, the TCP transport, the built-in plugin
 * chain and the $node service, plus its /metrics server. The only difference is the log level
 * (warn), so the bench's output stays readable while every call still passes the logging hook.
 */
export async function startBenchNode(options: { id: string; controlUrl: string; secret: string; services: readonly AnyService[] }): Promise<BenchNode> {
  const { id, controlUrl, secret } = options;
  const logger = createLogger({ nodeId: id, role: 'node', level: 'warn' });
  const tracing = startTracing({ serviceName: 'shoal-node', nodeId: id });
  const metrics = createMetrics({ nodeId: id, role: 'node' });
  const connection = clusterDrivers({ controlUrl, secret, clientId: id, logger });
  const { coordinator, transport } = connection;
  const startedAt = Date.now();
  const broker: ServiceBroker = new ServiceBroker({
    nodeId: id,
    role: 'node',
    transport,
    coordinator,
    listen: { host: '127.0.0.1', port: 0 },
    services: [
      ...options.services,
      nodeService({
        nodeId: id,
        startedAt,
        services: () => broker.services.map((s) => `${s.name}@${s.version}`),
        health: () => broker.health(),
        inflight: () => broker.inflight,
      }),
    ],
    plugins: builtinPlugins(logger, metrics),
    logger,
  });
  const http = await createObservabilityServer({ host: '127.0.0.1', port: 0, metrics, health: () => ({ nodeId: id, status: broker.health() }) });
  await broker.start();
  return {
    broker,
    async close() {
      await broker.stop();
      await http.close();
      await connection.close();
      await tracing.shutdown();
    },
  };
}

/** Resolves once `broker` routes to `count` endpoints of the service. */
export async function waitForEndpoints(broker: ServiceBroker, service: string, version: number, count: number, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (broker.registry.endpoints(service, version).length < count) {
    if (Date.now() > until) throw new Error(`${broker.nodeId} found no endpoint of ${service}@${version} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
