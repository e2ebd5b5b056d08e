/** Worker: a Moleculer node that calls the bench service remotely and measures. Args: NODE_ID PORT URL… */
import { runClosedLoop } from '../lib/load.ts';
import { failStartup, reportReady, serveParent } from '../lib/worker-protocol.ts';
import { createMoleculerBroker, parseArgs } from './moleculer-node.ts';
import { actionName, echoParams, serviceName } from './workload.ts';

try {
  const { nodeID, port, urls } = parseArgs(process.argv.slice(2));
  const broker = createMoleculerBroker(nodeID, port, urls);
  await broker.start();
  await broker.waitForServices(serviceName, 15_000);
  const target = `${serviceName}.${actionName}`;
  // One call before reporting ready, so connection setup is not part of any case.
  await broker.call(target, echoParams);
  serveParent({
    runCase: (spec) => runClosedLoop(() => broker.call(target, echoParams), spec),
    shutdown: () => broker.stop(),
  });
  reportReady();
} catch (err) {
  failStartup(err);
}
