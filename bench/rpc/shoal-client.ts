/** Worker: a Shoal node without the bench service that calls it remotely and measures. Args: ID CONTROL_URL. */
import { runClosedLoop } from '../lib/load.ts';
import { failStartup, reportReady, serveParent } from '../lib/worker-protocol.ts';
import { startBenchNode, waitForEndpoints } from './shoal-node.ts';
import { actionName, echoParams, serviceName } from './workload.ts';

try {
  const [id, controlUrl] = process.argv.slice(2);
  const node = await startBenchNode({ id, controlUrl, secret: process.env.SHOAL_SECRET ?? '', services: [] });
  const { broker } = node;
  await waitForEndpoints(broker, serviceName, 1, 1);
  // One call before reporting ready, so connection setup is not part of any case.
  await broker.call(serviceName, 1, actionName, echoParams);
  serveParent({
    runCase: (spec) => runClosedLoop(() => broker.call(serviceName, 1, actionName, echoParams), spec),
    shutdown: () => node.close(),
  });
  reportReady();
} catch (err) {
  failStartup(err);
}
