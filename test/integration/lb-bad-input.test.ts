import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { send, sleep, startLb, startUpstream, tempConfig, type LbProcess, type TestUpstream } from '../support/lb-harness.ts';

/** Writes `bytes` on a fresh connection and returns everything read until the peer closes. */
function rawExchange(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(bytes));
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(text));
    setTimeout(() => reject(new Error(`the balancer kept the connection open; got ${JSON.stringify(text)}`)), 10_000).unref();
  });
}

describe('shoal lb refuses bad input and keeps serving', () => {
  let upstream: TestUpstream;
  let lb: LbProcess;
  let url: string;
  let port: number;
  let config: Awaited<ReturnType<typeof tempConfig>>;

  before(async () => {
    upstream = await startUpstream('a');
    config = await tempConfig(`accessLog: false
listeners:
  - address: 127.0.0.1:0
    backend: web
    limits:
      maxHeaderBytes: 4096
      maxBodyBytes: 1024
      headersTimeout: 1s
      requestTimeout: 5s
    rateLimit:
      ratePerSecond: 2
      burst: 5
      by: header
      header: x-api-key
backends:
  web:
    servers:
      - url: ${upstream.url}
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

  it('answers a malformed request line with 400 and closes', async () => {
    const text = await rawExchange(port, 'GARBAGE / NOT-HTTP\r\n\r\n');
    assert.match(text, /^HTTP\/1\.1 400 /);
    assert.match(text, /"code":"BAD_REQUEST"/);
  });

  it('answers oversized headers with 431', async () => {
    const text = await rawExchange(port, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'y'.repeat(8000)}\r\n\r\n`);
    assert.match(text, /^HTTP\/1\.1 431 /);
  });

  it('answers an oversized body with 413, declared or streamed', async () => {
    const declared = await send(url, { method: 'POST', headers: { 'x-api-key': 'body-1' }, body: 'z'.repeat(5000) });
    assert.equal(declared.status, 413);
    assert.equal(JSON.parse(declared.body).error.code, 'PAYLOAD_TOO_LARGE');
    const streamed = await rawExchange(port, `POST / HTTP/1.1\r\nHost: x\r\nx-api-key: body-2\r\nTransfer-Encoding: chunked\r\n\r\n1400\r\n${'z'.repeat(0x1400)}\r\n0\r\n\r\n`);
    assert.match(streamed, /^HTTP\/1\.1 413 /);
  });

  it('closes a slowloris connection while other clients keep getting answers', async () => {
    const request = `GET /slow HTTP/1.1\r\nHost: x\r\nX-Padding: ${'p'.repeat(40)}\r\n\r\n`;
    let sent = 0;
    let closed = false;
    let text = '';
    const socket = connect(port, '127.0.0.1');
    socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
    socket.on('error', () => undefined);
    const done = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.on('close', () => (closed = true));
    const normal: number[] = [];
    // One byte every 100 ms: the headers would take about 7 s, far beyond the 1 s limit.
    while (!closed && sent < request.length) {
      socket.write(request[sent++]);
      if (sent % 5 === 0) normal.push((await send(url, { headers: { 'x-api-key': `normal-${sent}` } })).status);
      await sleep(100);
    }
    await done;
    assert.ok(sent < request.length, `the connection was closed before the headers were complete (${sent}/${request.length} bytes)`);
    if (text !== '') assert.match(text, /^HTTP\/1\.1 408 /);
    assert.ok(normal.length > 0 && normal.every((status) => status === 200), `other clients were served: ${normal}`);
  });

  it('answers a flood above the rate limit with 429 and Retry-After, and serves other keys', async () => {
    const flood = await Promise.all(Array.from({ length: 30 }, () => send(url, { headers: { 'x-api-key': 'flooder' } })));
    const limited = flood.filter((reply) => reply.status === 429);
    assert.ok(limited.length >= 20, `most of the flood was refused (${limited.length}/30)`);
    assert.ok(flood.filter((reply) => reply.status === 200).length >= 1);
    for (const reply of limited) {
      assert.ok(Number(reply.headers['retry-after']) >= 1, 'Retry-After in seconds');
      assert.equal(JSON.parse(reply.body).error.code, 'RATE_LIMITED');
    }
    for (let i = 0; i < 3; i++) assert.equal((await send(url, { headers: { 'x-api-key': 'polite' } })).status, 200);
  });
});
