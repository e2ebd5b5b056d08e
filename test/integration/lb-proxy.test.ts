import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { Agent, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { send, startLb, startUpstream, type LbProcess, type TestUpstream } from '../support/lb-harness.ts';

/** Hooks the streaming tests use to step an upstream through a request. */
const hooks = {
  firstRequestChunk: undefined as ((chunk: Buffer) => void) | undefined,
  continueResponse: undefined as Promise<void> | undefined,
};

function handler(req: IncomingMessage, res: ServerResponse, upstream: TestUpstream): void {
  if (req.url === '/echo') {
    res.writeHead(200, { 'x-upstream': upstream.name, 'content-type': 'application/octet-stream' });
    req.pipe(res);
    return;
  }
  if (req.url === '/trickle-in') {
    let received = 0;
    req.on('data', (chunk: Buffer) => {
      if (received === 0) hooks.firstRequestChunk?.(chunk);
      received += chunk.length;
    });
    req.on('end', () => res.end(String(received)));
    return;
  }
  if (req.url === '/trickle-out') {
    req.resume();
    res.writeHead(200, { 'x-upstream': upstream.name });
    res.write('first;');
    void hooks.continueResponse?.then(() => res.end('last'));
    return;
  }
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'text/plain', 'x-upstream': upstream.name });
    res.end(upstream.name);
  });
}

describe('shoal lb proxies HTTP', () => {
  let upstreams: TestUpstream[];
  let lb: LbProcess;
  let url: string;

  before(async () => {
    upstreams = await Promise.all(['a', 'b', 'c'].map((name) => startUpstream(name, handler)));
    upstreams.forEach((upstream) => {
      upstream.server.on('upgrade', (req: IncomingMessage, socket) => {
        socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nx-upstream: ${upstream.name}\r\n\r\n`);
        socket.pipe(socket);
      });
    });
    lb = await startLb(['--listen', '127.0.0.1:0', ...upstreams.flatMap((u) => ['--upstream', u.url]), '--algorithm', 'round-robin', '--max-body-bytes', String(64 * 1024 * 1024), '--no-access-log']);
    url = lb.urls[0];
  });
  after(async () => {
    await lb?.stop();
    await Promise.all((upstreams ?? []).map((upstream) => upstream.close()));
  });

  it('spreads requests round robin over three upstreams', async () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 30; i++) {
      const reply = await send(`${url}/rr`);
      assert.equal(reply.status, 200);
      counts.set(reply.body, (counts.get(reply.body) ?? 0) + 1);
    }
    assert.deepEqual([...counts.entries()].sort(), [['a', 10], ['b', 10], ['c', 10]]);
  });

  it('keeps connections alive to clients and to upstreams', async () => {
    const before = upstreams.reduce((sum, u) => sum + u.connections, 0);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const clientSockets = new Set<unknown>();
    for (let i = 0; i < 60; i++) {
      const reply = await new Promise<number>((resolve, reject) => {
        const req = request(`${url}/ka`, { agent }, (res) => {
          clientSockets.add(res.socket);
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end();
      });
      assert.equal(reply, 200);
    }
    agent.destroy();
    assert.equal(clientSockets.size, 1, 'one client connection carried every request');
    const opened = upstreams.reduce((sum, u) => sum + u.connections, 0) - before;
    assert.ok(opened <= 3, `60 requests opened ${opened} upstream connections; at most one per upstream expected`);
  });

  it('streams a 20 MB body both ways intact', async () => {
    const chunk = Buffer.alloc(64 * 1024);
    for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 31) & 0xff;
    const chunks = 320;
    const sent = createHash('sha256');
    const received = createHash('sha256');
    let length = 0;
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${url}/echo`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' } }, (res) => {
        res.on('data', (data: Buffer) => {
          received.update(data);
          length += data.length;
        });
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      });
      req.on('error', reject);
      let written = 0;
      const writeMore = (): void => {
        while (written < chunks) {
          written++;
          sent.update(chunk);
          if (!req.write(chunk)) {
            req.once('drain', writeMore);
            return;
          }
        }
        req.end();
      };
      writeMore();
    });
    assert.equal(status, 200);
    assert.equal(length, chunk.length * chunks);
    assert.equal(received.digest('hex'), sent.digest('hex'));
  });

  it('passes request and response bodies on as they arrive, without waiting for the end', async () => {
    // The client sends the rest of its body only after the upstream has seen the first bytes:
    // with a buffering proxy this request would never finish.
    const firstSeen = new Promise<Buffer>((resolve) => (hooks.firstRequestChunk = resolve));
    const reply = new Promise<string>((resolve, reject) => {
      const req = request(`${url}/trickle-in`, { method: 'POST', headers: { 'transfer-encoding': 'chunked' } }, (res) => {
        let body = '';
        res.on('data', (data: Buffer) => (body += data.toString()));
        res.on('end', () => resolve(body));
      });
      req.on('error', reject);
      req.write('first-part;');
      void firstSeen.then(() => req.end('second-part'));
    });
    assert.equal((await firstSeen).toString(), 'first-part;');
    assert.equal(await reply, String('first-part;second-part'.length));

    // And the upstream finishes its response only after the client has read its first bytes.
    let release!: () => void;
    hooks.continueResponse = new Promise<void>((resolve) => (release = resolve));
    const body = await new Promise<string>((resolve, reject) => {
      const req = request(`${url}/trickle-out`, (res) => {
        let text = '';
        res.on('data', (data: Buffer) => {
          text += data.toString();
          if (text === 'first;') release();
        });
        res.on('end', () => resolve(text));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(body, 'first;last');
  });

  it('passes a WebSocket upgrade through and pipes the raw bytes', async () => {
    const port = Number(new URL(url).port);
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    socket.write('GET /chat HTTP/1.1\r\nHost: example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
    let text = '';
    await new Promise<void>((resolve, reject) => {
      socket.on('data', (data: Buffer) => {
        text += data.toString();
        if (text.includes('\r\n\r\n')) resolve();
      });
      socket.on('error', reject);
    });
    assert.match(text, /^HTTP\/1\.1 101 /);
    assert.match(text, /upgrade: websocket/i);
    text = '';
    const echoed = new Promise<void>((resolve) => socket.on('data', () => text.includes('ping-pong-42') && resolve()));
    socket.write('ping-pong-42');
    await echoed;
    assert.equal(text, 'ping-pong-42');
    socket.destroy();
  });

  it('tells the upstream who the client is: X-Forwarded-For/-Proto/-Host, Forwarded, traceparent', async () => {
    const reply = await send(`${url}/whoami`, { headers: { 'x-forwarded-for': '203.0.113.7', host: 'shop.example' } });
    assert.equal(reply.status, 200);
    const upstream = upstreams.find((u) => u.name === reply.body)!;
    const headers = upstream.lastHeaders!;
    assert.equal(headers['x-forwarded-for'], '203.0.113.7, 127.0.0.1');
    assert.equal(headers['x-forwarded-proto'], 'http');
    assert.equal(headers['x-forwarded-host'], 'shop.example');
    assert.equal(headers.forwarded, 'for=127.0.0.1;proto=http;host="shop.example"');
    assert.equal(headers.host, 'shop.example');
    assert.match(String(headers.traceparent), /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);

    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    await send(`${url}/whoami`, { headers: { traceparent } });
    assert.ok(upstreams.some((u) => u.lastHeaders?.traceparent === traceparent), 'a client traceparent is passed on unchanged');
  });
});
