/**
 * `shoal lb` against input an attacker would send: requests framed so the upstream would read
 * a second, smuggled request; malformed request lines; slow heads on the listener and on the
 * admin listener; an upstream with an oversized response head; and clients that keep sending
 * after they were refused.
 */
import assert from 'node:assert/strict';
import { createServer as createNetServer, connect, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { send, sleep, startLb, startUpstream, tempConfig, type LbProcess, type TestUpstream } from '../support/lb-harness.ts';
import { errorCodeOf, rawExchange, sendAndKeepSending } from '../support/lb-raw-client.ts';

/** Trickles `request` one byte per 100 ms; resolves with what came back once the server closed. */
async function trickle(port: number, request: string): Promise<{ text: string; sent: number }> {
  const socket = connect(port, '127.0.0.1');
  let text = '';
  let closed = false;
  socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
  socket.on('error', () => undefined);
  const done = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.on('close', () => (closed = true));
  let sent = 0;
  while (!closed && sent < request.length) {
    socket.write(request[sent++]);
    await sleep(100);
  }
  await done;
  return { text, sent };
}

describe('shoal lb hardening', () => {
  let upstream: TestUpstream;
  const paths: string[] = [];
  let bigHeadServer: NetServer;
  let lb: LbProcess;
  let port: number;
  let bigHeadPort: number;
  let adminPort: number;
  let config: Awaited<ReturnType<typeof tempConfig>>;

  before(async () => {
    upstream = await startUpstream('a', (req, res) => {
      paths.push(req.url ?? '');
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    // An upstream whose response head is 100 KB, written in one piece.
    bigHeadServer = createNetServer((socket: Socket) => {
      socket.on('error', () => undefined);
      socket.once('data', () => socket.write(`HTTP/1.1 200 OK\r\nX-Big: ${'b'.repeat(100 * 1024)}\r\nContent-Length: 2\r\n\r\nok`));
    });
    await new Promise<void>((resolve) => bigHeadServer.listen(0, '127.0.0.1', resolve));
    config = await tempConfig(`accessLog: false
admin:
  address: 127.0.0.1:0
  headersTimeout: 1s
listeners:
  - address: 127.0.0.1:0
    backend: web
    limits:
      headersTimeout: 1s
  - address: 127.0.0.1:0
    backend: bighead
backends:
  web:
    servers:
      - url: ${upstream.url}
  bighead:
    retries:
      max: 0
    servers:
      - url: http://127.0.0.1:${(bigHeadServer.address() as AddressInfo).port}
`);
    lb = await startLb(['--config', config.path], { listeners: 2 });
    port = Number(new URL(lb.urls[0]).port);
    bigHeadPort = Number(new URL(lb.urls[1]).port);
    adminPort = Number(new URL(lb.adminUrl!).port);
  });
  after(async () => {
    await lb?.stop();
    await upstream?.close();
    bigHeadServer?.close();
    await config?.remove();
  });

  it('refuses a Connection header naming Content-Length, Transfer-Encoding or Host: nothing is smuggled upstream', async () => {
    const smuggled = 'GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n';
    const attempts = [
      `POST /cl HTTP/1.1\r\nHost: x\r\nContent-Length: ${smuggled.length}\r\nConnection: content-length\r\n\r\n${smuggled}`,
      `POST /te HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: transfer-encoding\r\n\r\n${smuggled.length.toString(16)}\r\n${smuggled}\r\n0\r\n\r\n`,
      `GET /host HTTP/1.1\r\nHost: x\r\nConnection: host\r\n\r\n`,
    ];
    for (const attempt of attempts) {
      const text = await rawExchange(port, attempt);
      assert.match(text, /^HTTP\/1\.1 400 /, attempt);
      assert.equal(errorCodeOf(text), 'BAD_REQUEST');
    }
    assert.equal((await send(lb.urls[0] + '/after')).status, 200);
    assert.deepEqual(paths.filter((path) => path !== '/after'), [], 'the upstream got none of those requests');
  });

  it('refuses at the balancer what an upstream might frame differently, and closes', async () => {
    const before = paths.length;
    const cases: Array<[string, string]> = [
      ['two equal Content-Lengths', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab'],
      ['chunked twice', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n'],
      ['a target without a leading slash', 'GET x HTTP/1.1\r\nHost: x\r\n\r\n'],
      ['an absolute-form target', 'GET http://other.example/ HTTP/1.1\r\nHost: x\r\n\r\n'],
      ['8-bit bytes in the target', 'GET /\u00e9 HTTP/1.1\r\nHost: x\r\n\r\n'],
      ['Host: a b', 'GET / HTTP/1.1\r\nHost: a b\r\n\r\n'],
      ['a 10 KB Host', `GET / HTTP/1.1\r\nHost: ${'h'.repeat(10 * 1024)}\r\n\r\n`],
      ['two Hosts', 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n'],
    ];
    for (const [what, bytes] of cases) {
      const text = await rawExchange(port, bytes);
      assert.match(text, /^HTTP\/1\.1 400 /, what);
      assert.match(text, /\r\nconnection: close\r\n/, what);
      assert.equal(errorCodeOf(text), 'BAD_REQUEST', what);
    }
    assert.equal(paths.length, before, 'none reached the upstream');
  });

  it('answers 400 to a chunk size with trailing spaces and to a Content-Length in the trailer', async () => {
    for (const body of ['5 \r\nhello\r\n0\r\n\r\n', '5\r\nhello\r\n0\r\nContent-Length: 40\r\n\r\n']) {
      const text = await rawExchange(port, `POST /chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${body}`);
      assert.match(text, /^HTTP\/1\.1 400 /, JSON.stringify(body));
      assert.equal(errorCodeOf(text), 'BAD_REQUEST');
    }
  });

  it('refuses HTTP/2.0, HTTP/0.9, a missing version and doubled spaces in the request line', async () => {
    for (const line of ['GET / HTTP/2.0', 'GET / HTTP/0.9', 'GET /', 'GET  / HTTP/1.1', 'GET /  HTTP/1.1']) {
      const text = await rawExchange(port, `${line}\r\nHost: x\r\n\r\n`);
      assert.match(text, /^HTTP\/1\.1 400 /, line);
    }
  });

  it('says NOT_IMPLEMENTED in the body of its 501s (Transfer-Encoding: gzip, chunked; CONNECT)', async () => {
    for (const bytes of ['POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n', 'CONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\n']) {
      const text = await rawExchange(port, bytes);
      assert.match(text, /^HTTP\/1\.1 501 /, bytes);
      assert.equal(errorCodeOf(text), 'NOT_IMPLEMENTED', bytes);
    }
  });

  it('answers 408 to a head trickled past the header timeout, and closes', async () => {
    const request = `GET /slow HTTP/1.1\r\nHost: x\r\nX-Padding: ${'p'.repeat(40)}\r\n\r\n`;
    const { text, sent } = await trickle(port, request);
    assert.ok(sent < request.length, `closed before the head was complete (${sent}/${request.length} bytes)`);
    assert.match(text, /^HTTP\/1\.1 408 /);
    assert.equal(errorCodeOf(text), 'REQUEST_TIMEOUT');
  });

  it('answers 408 on the admin listener to a head trickled past its header timeout, and closes', async () => {
    const request = `GET /metrics HTTP/1.1\r\nHost: x\r\nX-Padding: ${'p'.repeat(40)}\r\n\r\n`;
    const { text, sent } = await trickle(adminPort, request);
    assert.ok(sent < request.length, `closed before the head was complete (${sent}/${request.length} bytes)`);
    assert.match(text, /^HTTP\/1\.1 408 /);
    assert.equal(errorCodeOf(text), 'REQUEST_TIMEOUT');
    assert.equal((await send(`${lb.adminUrl}/healthz`)).status, 200, 'the admin listener still serves');
  });

  it('answers 400 on the admin listener to a malformed request, and closes', async () => {
    const text = await rawExchange(adminPort, 'GET / HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n');
    assert.match(text, /^HTTP\/1\.1 400 /);
    assert.equal(errorCodeOf(text), 'BAD_REQUEST');
  });

  it('refuses a 100 KB upstream response head with 502 rather than relaying it', async () => {
    const reply = await send(`http://127.0.0.1:${bigHeadPort}/`);
    assert.equal(reply.status, 502);
    assert.equal(JSON.parse(reply.body).error.code, 'BAD_GATEWAY');
    assert.match(reply.body, /response head too large/);
  });

  it('closes a refused connection whose client keeps sending (400, 431 and 408 paths)', async () => {
    const heads = [
      'GARBAGE\r\n\r\n',
      `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'y'.repeat(20_000)}`,
      'GET / HTTP/1.1\r\nHost: x\r\n',
    ];
    const senders = heads.map((head, i) => sendAndKeepSending(port, head, i === 2 ? { chunkBytes: 1, everyMs: 50 } : {}));
    const closed = await Promise.all(senders.map((sender) => sender.closed));
    assert.deepEqual(closed, [true, true, true], 'the balancer closed every connection');
    assert.match(senders[0].text(), /^HTTP\/1\.1 400 /);
    assert.match(senders[1].text(), /^HTTP\/1\.1 431 /);
    // The third never ends its head (one byte at a time, no blank line): the header timeout answers.
    assert.match(senders[2].text(), /^HTTP\/1\.1 408 /);
  });
});
