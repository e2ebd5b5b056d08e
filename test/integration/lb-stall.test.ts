import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { send, startLb, startUpstream, tempConfig, type Handler, type LbProcess, type TestUpstream } from '../support/lb-harness.ts';
import { eventually } from '../support/eventually.ts';

/** Upstream sockets that have closed, by the request path they served. */
const closedUpstreamSockets = new Set<string>();

const handler: Handler = (req, res, upstream) => {
  const path = req.url ?? '/';
  req.socket.once('close', () => closedUpstreamSockets.add(path));
  req.resume();
  if (path === '/stall') {
    // Promises 1000 bytes, sends 10, then goes quiet with the connection open.
    res.writeHead(200, { 'content-length': '1000' });
    res.write('0123456789');
    return;
  }
  if (path === '/flood') {
    // An endless body, written as fast as the balancer takes it.
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const pump = (): void => {
      while (!res.destroyed && res.write(chunk));
    };
    res.on('drain', pump);
    pump();
    return;
  }
  if (path === '/trickle') {
    // Ten parts 100 ms apart: a second in all, never 300 ms without a byte.
    res.writeHead(200, { 'content-type': 'text/plain' });
    let sent = 0;
    const tick = setInterval(() => {
      res.write(`${sent}\n`);
      if (++sent === 10) {
        clearInterval(tick);
        res.end('done');
      }
    }, 100);
    return;
  }
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end(upstream.name);
};

/**
 * Sends a request on a raw connection; `closed` resolves with what came back once the balancer
 * closes it. A client that does not read is paused, and a paused socket notices the close only
 * once it reads again: `resume` does that.
 */
function rawRequest(port: number, path: string, options: { read: boolean }): { closed: Promise<{ text: string; bytes: number }>; resume(): void } {
  const socket = connect(port, '127.0.0.1', () => socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`));
  if (!options.read) socket.pause();
  const closed = new Promise<{ text: string; bytes: number }>((resolve, reject) => {
    let text = '';
    let bytes = 0;
    socket.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (text.length < 4096) text += chunk.toString('latin1');
    });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve({ text, bytes }));
    // The default idle timeout is 60 s; this one is set to 300 ms, so 15 s means it never acted.
    setTimeout(() => {
      socket.destroy();
      reject(new Error(`the balancer kept a stalled answer open; got ${bytes} bytes`));
    }, 15_000).unref();
  });
  return { closed, resume: () => socket.resume() };
}

describe('shoal lb cuts off answers that stall', () => {
  let upstream: TestUpstream;
  let lb: LbProcess;
  let url: string;
  let port: number;
  let config: Awaited<ReturnType<typeof tempConfig>>;

  before(async () => {
    upstream = await startUpstream('a', handler);
    config = await tempConfig(`accessLog: true
listeners:
  - address: 127.0.0.1:0
    backend: web
backends:
  web:
    servers:
      - url: ${upstream.url}
    timeouts:
      try: 2s
      total: 5s
      idle: 300ms
`);
    lb = await startLb(['--config', config.path]);
    url = lb.urls[0];
    port = Number(new URL(url).port);
  });
  after(async () => {
    await lb?.stop();
    await upstream?.close();
    await config?.remove();
  });

  it('closes both connections when the upstream goes quiet mid-body, and keeps serving', async () => {
    const { text } = await rawRequest(port, '/stall', { read: true }).closed;
    assert.match(text, /^HTTP\/1\.1 200 /);
    assert.match(text, /content-length: 1000\r\n/i);
    assert.ok(text.endsWith('\r\n\r\n0123456789'), `the part sent came through, and no more: ${JSON.stringify(text.slice(-40))}`);
    await eventually(() => closedUpstreamSockets.has('/stall'), { message: 'the balancer closed its connection to the stalled upstream', timeoutMs: 15_000, intervalMs: 50 });
    await eventually(() => /"error":"upstream sent nothing for 300ms"/.test(lb.stdout()), { message: 'the access log names the stall', timeoutMs: 15_000, intervalMs: 50 });
    const next = await send(url);
    assert.equal(next.status, 200);
    assert.equal(next.body, 'a');
  });

  it('closes both connections when the client stops reading a long answer, and keeps serving', async () => {
    const client = rawRequest(port, '/flood', { read: false });
    await eventually(() => closedUpstreamSockets.has('/flood'), { message: 'the balancer closed its connection to the upstream', timeoutMs: 15_000, intervalMs: 50 });
    await eventually(() => /"error":"client read nothing for 300ms"/.test(lb.stdout()), { message: 'the access log names the slow client', timeoutMs: 15_000, intervalMs: 50 });
    client.resume();
    const { text, bytes } = await client.closed;
    assert.match(text, /^HTTP\/1\.1 200 /);
    assert.ok(bytes < 1024 ** 3, `the answer was cut off (${bytes} bytes)`);
    const next = await send(url);
    assert.equal(next.status, 200);
  });

  it('lets an answer that keeps flowing run longer than the idle timeout', async () => {
    const reply = await send(`${url}/trickle`);
    assert.equal(reply.status, 200);
    assert.equal(reply.body, '0\n1\n2\n3\n4\n5\n6\n7\n8\n9\ndone');
  });
});
