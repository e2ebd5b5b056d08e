/** Runs the Transport conformance suite against the TCP driver on loopback. */
import { tcpConformanceDriver } from '../support/tcp-conformance-driver.ts';
import { transportConformance } from './transport-suite.ts';

transportConformance('tcp', async () => tcpConformanceDriver());
