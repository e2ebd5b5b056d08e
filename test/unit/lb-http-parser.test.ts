import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ChunkedFramer, clientOrigin, isHeadError, noLookups, parseRequestHead, parseResponseHead, upstreamHead } from '../../src/gateway/proxy/index.ts';

function parse(text: string) {
  const buf = Buffer.from(text, 'latin1');
  return parseRequestHead(buf, buf.length, noLookups);
}

/** The head sent upstream for `text`, as text. */
function forwarded(text: string, ip = '192.0.2.1'): string {
  const head = parse(text);
  assert.ok(!isHeadError(head), `parsed: ${JSON.stringify(head)}`);
  return upstreamHead(head, clientOrigin(ip, 'http'), '10.0.0.1:80', { traceBuf: undefined, traceAt: 0 }).toString('latin1');
}

describe('request head parser', () => {
  it('reads the request line, framing and persistence', () => {
    const head = parse('POST /a?b=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n\r\n');
    assert.ok(!isHeadError(head));
    assert.equal(head.method, 'POST');
    assert.equal(head.target, '/a?b=1');
    assert.equal(head.contentLength, 12);
    assert.equal(head.keepAlive, true);
    const chunked = parse('PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n');
    assert.ok(!isHeadError(chunked));
    assert.equal(chunked.chunked, true);
    assert.equal(chunked.keepAlive, false);
    const old = parse('GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
    assert.ok(!isHeadError(old));
    assert.equal(old.http10, true);
    assert.equal(old.keepAlive, true);
  });

  it('forwards with hop-by-hop headers removed and forwarding headers added', () => {
    const text = forwarded(
      'GET /p HTTP/1.1\r\nHost: shop.example\r\nConnection: keep-alive, X-Secret\r\nX-Secret: 1\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\nX-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Proto: https\r\nAccept: */*\r\n\r\n',
    );
    assert.match(text, /^GET \/p HTTP\/1\.1\r\nHost: shop\.example\r\n/);
    assert.doesNotMatch(text, /connection|x-secret|keep-alive|\bte:|https/i);
    assert.match(text, /\r\nAccept: \*\/\*\r\n/);
    assert.match(text, /\r\nx-forwarded-for: 203\.0\.113\.7, 192\.0\.2\.1\r\n/);
    assert.match(text, /\r\nx-forwarded-proto: http\r\n/);
    assert.match(text, /\r\nx-forwarded-host: shop\.example\r\n/);
    assert.match(text, /\r\nforwarded: for=192\.0\.2\.1;proto=http;host="shop\.example"\r\n/);
    assert.match(text, /\r\ntraceparent: 00-[0-9a-f]{32}-[0-9a-f]{16}-01\r\n\r\n$/);
  });

  it('keeps a valid traceparent, keeps upgrade headers for an upgrade, and adds Host for HTTP/1.0', () => {
    const trace = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const text = forwarded(`GET / HTTP/1.1\r\nHost: h\r\ntraceparent: ${trace}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`);
    assert.equal(text.match(/traceparent/g)?.length, 1);
    assert.match(text, new RegExp(`traceparent: ${trace}\r\n`));
    assert.match(text, /Connection: Upgrade\r\nUpgrade: websocket\r\n/);
    assert.match(forwarded('GET / HTTP/1.0\r\n\r\n', '::1'), /^GET \/ HTTP\/1\.1\r\nhost: 10\.0\.0\.1:80\r\n[\s\S]*forwarded: for="\[::1\]";proto=http\r\n/);
  });

  it('refuses malformed heads with 400, unsupported ones with 501', () => {
    const cases: Array<[string, number]> = [
      ['GARBAGE / NOT-HTTP\r\n\r\n', 400],
      ['GET / HTTP/2.0\r\nHost: x\r\n\r\n', 400],
      ['GET  / HTTP/1.1\r\nHost: x\r\n\r\n', 400],
      ['G@T / HTTP/1.1\r\nHost: x\r\n\r\n', 400],
      ['GET / HTTP/1.1\r\nHost : x\r\n\r\n', 400],
      ['GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n', 400],
      ['GET / HTTP/1.1\r\nHost: x\nX: y\r\n\r\n', 400],
      ['GET / HTTP/1.1\r\nHost: x\r\nX: a\u0000b\r\n\r\n', 400],
      ['GET / HTTP/1.1\r\n\r\n', 400],
      ['GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n', 400],
      ['POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n', 400],
      ['POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n', 400],
      ['POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n', 400],
      ['POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n', 501],
      ['CONNECT x:443 HTTP/1.1\r\nHost: x\r\n\r\n', 501],
    ];
    for (const [text, status] of cases) {
      const result = parse(text);
      assert.ok(isHeadError(result), `refused: ${JSON.stringify(text)}`);
      assert.equal(result.status, status, JSON.stringify(text));
    }
  });
});

describe('chunked framer', () => {
  const body = '5;ext=1\r\nhello\r\n10\r\n, chunked world!\r\n0\r\nX-Trailer: t\r\n\r\n';
  const next = 'GET / HTTP/1.1\r\n';

  it('finds the end of a chunked body split at every byte boundary, and decodes it', () => {
    const whole = Buffer.from(body + next, 'latin1');
    for (let split = 1; split < whole.length; split++) {
      const framer = new ChunkedFramer();
      let decoded = '';
      const sink = (buf: Buffer, start: number, end: number): void => {
        decoded += buf.toString('latin1', start, end);
      };
      const first = whole.subarray(0, split);
      const second = whole.subarray(split);
      let end = framer.feed(first, 0, first.length, sink);
      let rest: string;
      if (end >= 0) {
        rest = first.toString('latin1', end) + second.toString('latin1');
      } else {
        assert.equal(end, -1, `split at ${split}`);
        end = framer.feed(second, 0, second.length, sink);
        assert.ok(end >= 0, `split at ${split}: the end is found`);
        rest = second.toString('latin1', end);
      }
      assert.equal(rest, next, `split at ${split}: the next message is untouched`);
      assert.equal(decoded, 'hello, chunked world!');
      assert.equal(framer.dataBytes, 21);
      assert.equal(framer.done, true);
    }
  });

  it('refuses malformed chunk framing', () => {
    for (const bad of ['x\r\n', '5\r\nhelloX\r\n', '5\nhello', '1234567890abc\r\n', '\r\n']) {
      const framer = new ChunkedFramer();
      assert.equal(framer.feed(Buffer.from(bad), 0, bad.length), -2, JSON.stringify(bad));
    }
  });
});

describe('response head parser', () => {
  function response(text: string) {
    const buf = Buffer.from(text, 'latin1');
    const head = parseResponseHead(buf, buf.length);
    assert.ok(typeof head !== 'string', `parsed: ${String(head)}`);
    return head;
  }

  it('reads status and framing, and whether the upstream keeps the connection', () => {
    const ok = response('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n');
    assert.equal(ok.status, 200);
    assert.equal(ok.contentLength, 5);
    assert.equal(ok.close, false);
    const chunked = response('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n');
    assert.equal(chunked.chunked, true);
    assert.equal(chunked.contentLength, -1, 'Transfer-Encoding overrides Content-Length');
    assert.equal(response('HTTP/1.0 200 OK\r\n\r\n').close, true);
    assert.equal(response('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n').close, false);
    assert.equal(response('HTTP/1.1 204\r\nConnection: close\r\n\r\n').close, true);
    for (const bad of ['HTTP/1.1 20 OK\r\n\r\n', 'HTTP/2 200 OK\r\n\r\n', 'HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n']) {
      const buf = Buffer.from(bad);
      assert.equal(typeof parseResponseHead(buf, buf.length), 'string', bad);
    }
  });
});
