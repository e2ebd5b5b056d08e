/**
 * The Node peer: http-proxy 1.18 behind a plain node:http server, round robin over the upstreams,
 * with a keep-alive agent to them.
 *
 * Usage: node bench/gateway/node-proxy.ts PORT UPSTREAM_URL...
 */
import { Agent, createServer } from 'node:http';
import httpProxy from 'http-proxy';

const [portText, ...targets] = process.argv.slice(2);
const port = Number(portText);
if (!Number.isInteger(port) || port <= 0 || targets.length === 0) {
  console.error('usage: node bench/gateway/node-proxy.ts PORT UPSTREAM_URL...');
  process.exit(2);
}

const agent = new Agent({ keepAlive: true, maxSockets: 128 });
const proxy = httpProxy.createProxyServer({ agent });
let next = 0;

const server = createServer((req, res) => {
  const target = targets[next];
  next = (next + 1) % targets.length;
  proxy.web(req, res, { target }, (err) => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.writeHead(502, { 'content-type': 'text/plain' });
    res.end(`bad gateway: ${err.message}\n`);
  });
});
server.keepAliveTimeout = 75_000;

const stop = () => {
  server.close();
  agent.destroy();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

server.listen(port, '127.0.0.1');
