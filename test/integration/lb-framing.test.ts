import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { connect, createServer, type AddressInfo, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { sleep, startLb, startUpstream, type LbProcess, type TestUpstream } from '../support/lb-harness.ts';

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Reads HTTP/1.1 responses off raw bytes: Content-Length, chunked, or until the end. */
function parseResponses(text: string, ended: boolean, headRequests = new Set<number>()): RawResponse[] {
  const responses: RawResponse[] = [];
  let at = 0;
  while (at < text.length) {
    const headEnd = text.indexOf('\r\n\r\n', at);
    if (headEnd === -1) break;
    const lines = text.slice(at, headEnd).split('\r\n');
    const status = Number(lines[0].split(' ')[1]);
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) headers[line.slice(0, line.indexOf(':')).toLowerCase()] = line.slice(line.indexOf(':') + 1).trim();
    let pos = headEnd + 4;
    let body = '';
    if (headRequests.has(responses.length) || status === 204 || status === 304) {
      // no body
    } else if (headers['transfer-encoding'] === 'chunked') {
      for (;;) {
        const lineEnd = text.indexOf('\r\n', pos);
        if (lineEnd === -1) return responses;
        const size = parseInt(text.slice(pos, lineEnd), 16);
        if (size === 0) {
          const end = text.indexOf('\r\n\r\n', lineEnd - 2);
          if (end === -1) return responses;
          pos = end + 4;
          break;
        }
        if (text.length < lineEnd + 2 + size + 2) return responses;
        body += text.slice(lineEnd + 2, lineEnd + 2 + size);
        pos = lineEnd + 2 + size + 2;
      }
    } else if (headers['content-length'] !== undefined) {
      const length = Number(headers['content-length']);
      if (text.length < pos + length) break;
      body = text.slice(pos, pos + length);
      pos += length;
    } else {
      if (!ended) break;
      body = text.slice(pos);
      pos = text.length;
    }
    responses.push({ status, headers, body });
    at = pos;
  }
  return responses;
}

/** Writes `parts` on one connection (pausing between them) and reads until `count` responses came. */
async function exchange(port: number, parts: string[], count: number, headRequests?: Set<number>): Promise<{ responses: RawResponse[]; closed: boolean }> {
  const socket = connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  await once(socket, 'connect');
  let text = '';
  let closed = false;
  const done = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no complete answer; got ${JSON.stringify(text)}`)), 10_000);
    const check = (): void => {
      if (closed || parseResponses(text, false, headRequests).length >= count) {
        clearTimeout(timer);
        resolve();
      }
    };
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      check();
    });
    socket.on('close', () => {
      closed = true;
      check();
    });
    socket.on('error', () => undefined);
  });
  for (let i = 0; i < parts.length; i++) {
    if (i > 0) await sleep(2);
    socket.write(parts[i]);
  }
  await done;
  // A connection that is about to close does so right after its last response.
  if (!closed) await Promise.race([once(socket, 'close').then(() => (closed = true)), sleep(20)]);
  socket.destroy();
  return { responses: parseResponses(text, closed, headRequests), closed };
}

function handler(req: IncomingMessage, res: ServerResponse): void {
  if (req.url === '/chunked') {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('ab');
    res.write('cd');
    res.end('ef');
    return;
  }
  if (req.url === '/no-content') {
    req.resume();
    res.writeHead(204);
    res.end();
    return;
  }
  let body = '';
  req.on('data', (chunk: Buffer) => (body += chunk.toString('latin1')));
  req.on('end', () => {
    const text = `${req.method} ${req.url} len:${body.length}:${body}`;
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  });
}

/** An upstream that ends each response by closing the connection (no length, not chunked). */
async function startCloseDelimited(): Promise<{ server: Server; url: string }> {
  const server = createServer((socket) => {
    let text = '';
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (!text.includes('\r\n\r\n')) return;
      socket.write('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\nuntil-');
      setTimeout(() => socket.end('close'), 5);
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('shoal lb frames HTTP/1.1 messages itself', () => {
  let upstream: TestUpstream;
  let closeDelimited: { server: Server; url: string };
  let lb: LbProcess;
  let rawLb: LbProcess;
  let port: number;

  before(async () => {
    upstream = await startUpstream('a', handler);
    closeDelimited = await startCloseDelimited();
    [lb, rawLb] = await Promise.all([
      startLb(['--listen', '127.0.0.1:0', '--upstream', upstream.url, '--no-access-log']),
      startLb(['--listen', '127.0.0.1:0', '--upstream', closeDelimited.url, '--no-access-log']),
    ]);
    port = Number(new URL(lb.urls[0]).port);
  });
  after(async () => {
    await lb?.stop();
    await rawLb?.stop();
    await upstream?.close();
    closeDelimited?.server.close();
  });

  it('answers pipelined requests in order on one connection, HEAD without a body', async () => {
    const requests = [
      'GET /one HTTP/1.1\r\nHost: x\r\n\r\n',
      'POST /two HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
      'HEAD /three HTTP/1.1\r\nHost: x\r\n\r\n',
      'POST /four HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nwxyz',
    ];
    const { responses, closed } = await exchange(port, [requests.join('')], 4, new Set([2]));
    assert.deepEqual(
      responses.map((r) => [r.status, r.body]),
      [
        [200, 'GET /one len:0:'],
        [200, 'POST /two len:3:abc'],
        [200, ''],
        [200, 'POST /four len:4:wxyz'],
      ],
    );
    assert.equal(closed, false, 'the connection stays open');
  });

  it('parses a request split at every byte boundary', async () => {
    const sample = 'POST /split HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n3;x=y\r\nefg\r\n0\r\nT: 1\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n';
    for (let split = 1; split < sample.length; split++) {
      const { responses } = await exchange(port, [sample.slice(0, split), sample.slice(split)], 2);
      assert.deepEqual(
        responses.map((r) => r.body),
        ['POST /split len:7:abcdefg', 'GET /after len:0:'],
        `split at ${split}`,
      );
    }
  });

  it('passes chunked responses through, and decodes them for an HTTP/1.0 client', async () => {
    const modern = await exchange(port, ['GET /chunked HTTP/1.1\r\nHost: x\r\n\r\n'], 1);
    assert.equal(modern.responses[0].headers['transfer-encoding'], 'chunked');
    assert.equal(modern.responses[0].body, 'abcdef');
    const old = await exchange(port, ['GET /chunked HTTP/1.0\r\n\r\n'], 1);
    assert.equal(old.closed, true, 'an HTTP/1.0 client without keep-alive gets a close');
    assert.equal(old.responses[0].headers['transfer-encoding'], undefined);
    assert.equal(old.responses[0].body, 'abcdef');
  });

  it('keeps the connection after a 204, and answers a malformed chunked body with 400', async () => {
    const { responses } = await exchange(port, ['GET /no-content HTTP/1.1\r\nHost: x\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n'], 2);
    assert.deepEqual(responses.map((r) => r.status), [204, 200]);
    const bad = await exchange(port, ['POST /bad HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'], 1);
    assert.equal(bad.responses[0].status, 400);
    assert.equal(bad.closed, true);
  });

  it('re-frames a body that ends with the upstream closing as chunked, keeping the client connection', async () => {
    const rawPort = Number(new URL(rawLb.urls[0]).port);
    const { responses, closed } = await exchange(rawPort, ['GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n'], 2);
    assert.deepEqual(responses.map((r) => [r.status, r.headers['transfer-encoding'], r.body]), [
      [200, 'chunked', 'until-close'],
      [200, 'chunked', 'until-close'],
    ]);
    assert.equal(closed, false);
  });
});
