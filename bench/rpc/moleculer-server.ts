/** Worker: a Moleculer node hosting the bench service. Args: NODE_ID PORT URL… */
import { failStartup, reportReady, serveParent } from '../lib/worker-protocol.ts';
import { createMoleculerBroker, parseArgs } from './moleculer-node.ts';
import { echo, serviceName, type EchoParams } from './workload.ts';

try {
  const { nodeID, port, urls } = parseArgs(process.argv.slice(2));
  const broker = createMoleculerBroker(nodeID, port, urls);
  broker.createService({
    name: serviceName,
    actions: {
      echo: {
        params: { a: 'number', b: 'string' },
        handler: (ctx) => echo(ctx.params as EchoParams),
      },
    },
  });
  await broker.start();
  serveParent({ shutdown: () => broker.stop() });
  reportReady({ port });
} catch (err) {
  failStartup(err);
}
