/**
 * Runs the Transport conformance suite against the TCP driver wrapped by withFaults with an
 * empty plan, on loopback: the fault layer with no fault set keeps every rule of the contract.
 * The peer in another process is wrapped the same way.
 */
import { FaultPlan, withFaults } from '../../src/transport/index.ts';
import { tcpConformanceDriver } from '../support/tcp-conformance-driver.ts';
import { transportConformance } from './transport-suite.ts';

const contract = new URL('../../src/transport/index.ts', import.meta.url).href;

transportConformance('tcp behind withFaults, no fault set', async () =>
  tcpConformanceDriver({
    peerImport: `import { FaultPlan, withFaults } from ${JSON.stringify(contract)};`,
    peerWrap: 'withFaults($T, new FaultPlan())',
    wrap: (transport) => withFaults(transport, new FaultPlan()),
  }),
);
