/**
 * An upstream server in its own process, so a test can kill it with SIGKILL: answers every
 * request with its name, `/healthz` with 200, and prints "ready PORT" once listening.
 * Arguments: NAME PORT.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const [name, portText] = process.argv.slice(2);
const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'text/plain', 'x-upstream': name });
    res.end(name);
  });
});
server.listen(Number(portText), '127.0.0.1', () => {
  process.stdout.write(`ready ${(server.address() as AddressInfo).port}\n`);
});
