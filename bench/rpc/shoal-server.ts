/** Worker: a Shoal node hosting the bench service. Args: ID CONTROL_URL; env SHOAL_SECRET. */
import { failStartup, reportReady, serveParent } from '../lib/worker-protocol.ts';
import { benchService } from './shoal-service.ts';
import { startBenchNode } from './shoal-node.ts';

try {
  const [id, controlUrl] = process.argv.slice(2);
  const node = await startBenchNode({ id, controlUrl, secret: process.env.SHOAL_SECRET ?? '', services: [benchService] });
  serveParent({ shutdown: () => node.close() });
  reportReady({ address: node.broker.listenAddress });
} catch (err) {
  failStartup(err);
}
