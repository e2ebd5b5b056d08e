import { join } from 'node:path';
import { createEmbeddedCoordinator, startCoordinatorServer } from '../../control/embedded/index.ts';
import { ADMIN_TOKEN_ENV } from '../../core/index.ts';
import { createDashboard } from '../../dashboard/index.ts';
import { createLogger, createMetrics, serveMetrics } from '../../observe/index.ts';
import { parseRoleArgs, required } from './args.ts';
import { exitOnShutdown, requireSecret, signalReady } from './process-lifecycle.ts';

/** The control process: the embedded coordinator, durable in DIR/data/control. */
export async function runControl(argv: readonly string[]): Promise<void> {
  const args = parseRoleArgs(argv);
  const secret = requireSecret();
  const logger = createLogger({ nodeId: args.id, role: 'control' });
  const metrics = createMetrics({ nodeId: args.id, role: 'control' });
  const startedAt = Date.now();
  const port = required(args.port, 'port');
  // The dashboard reads membership through the coordinator API like any other member would;
  // its watch connects once the server below is listening.
  const self = createEmbeddedCoordinator({ url: `http://${args.host}:${port}`, secret, logger });
  const adminToken = process.env[ADMIN_TOKEN_ENV];
  if (!adminToken) throw new Error(`${ADMIN_TOKEN_ENV} is not set: the dashboard needs the cluster's admin token`);
  const dashboard = createDashboard(self, { adminToken });
  const server = await startCoordinatorServer({
    dataDir: join(args.dir, 'data', 'control'),
    host: args.host,
    port,
    secret,
    logger,
    // Health and metrics share the coordinator's port: one address per process to watch.
    extraRoutes: async (req, res) => {
      if (req.method !== 'GET') return false;
      if (dashboard.handle(req, res)) return true;
      if (req.url === '/metrics') {
        await serveMetrics(metrics, req, res);
        return true;
      }
      if (req.url === '/healthz') {
        const body = JSON.stringify({ id: args.id, role: 'control', status: 'healthy', pid: process.pid, uptimeMs: Date.now() - startedAt });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(body);
        return true;
      }
      return false;
    },
  });
  exitOnShutdown(logger, async () => {
    dashboard.close();
    await self.close();
    await server.close();
  });
  logger.info({ url: server.url }, 'control ready');
  signalReady({ id: args.id, url: server.url });
}
