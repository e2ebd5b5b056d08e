/**
 * Runs a coordinator server as its own process, for tests that kill it with SIGKILL.
 * Usage: node coordinator-child.ts DATA_DIR PORT SECRET
 * Prints one JSON line {"url","port"} on stdout once listening; SIGTERM closes it cleanly.
 */
import { startCoordinatorServer } from '../../src/control/embedded/index.ts';

const [dataDir, port, secret] = process.argv.slice(2);
if (!dataDir || port === undefined || !secret) {
  console.error('usage: coordinator-child.ts DATA_DIR PORT SECRET');
  process.exit(2);
}
const server = await startCoordinatorServer({ dataDir, port: Number(port), secret });
process.stdout.write(`${JSON.stringify({ url: server.url, port: server.address.port })}\n`);
process.on('SIGTERM', () => {
  void server.close().then(() => process.exit(0));
});
