/** Runs the Coordinator conformance suite against the embedded driver (server in a temp dir). */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEmbeddedCoordinator, startCoordinatorServer } from '../../src/control/embedded/index.ts';
import type { Coordinator } from '../../src/control/index.ts';
import type { CoordinatorServer } from '../../src/control/embedded/index.ts';
import { coordinatorConformance } from './coordinator-suite.ts';

coordinatorConformance('embedded', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'shoal-coordinator-'));
  const secret = 'conformance-secret';
  let server: CoordinatorServer = await startCoordinatorServer({ dataDir, port: 0, secret });
  const port = server.address.port;
  const url = server.url;
  const coordinator = createEmbeddedCoordinator({ url, secret });
  const extra: Coordinator[] = [];
  return {
    coordinator,
    async connect() {
      const client = createEmbeddedCoordinator({ url, secret });
      extra.push(client);
      return client;
    },
    async restart() {
      await server.close();
      server = await startCoordinatorServer({ dataDir, port, secret });
    },
    async stop() {
      await Promise.all([coordinator, ...extra].map((c) => c.close()));
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
});
