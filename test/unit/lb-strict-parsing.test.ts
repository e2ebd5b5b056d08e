/**
 * What the balancer's HTTP/1.1 parser refuses so that it never frames a message differently
 * from the server behind it (request smuggling), and what it forwards instead.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ChunkedFramer, clientOrigin, isHeadError, noLookups, parseRequestHead, upstreamHead } from '../../src/gateway/proxy/index.ts';

function parse(text: string) {
  const buf = Buffer.from(text, 'latin1');
  return parseRequestHead(buf, buf.length, noLookups);
}

function refusedWith(text: string, status: number): void {
  const result = parse(text);
  assert.ok(isHeadError(result), `refused: ${JSON.stringify(text)}`);
  assert.equal(result.status, status, JSON.stringify(text));
}

function forwarded(text: string): string {
  const head = parse(text);
  assert.ok(!isHeadError(head), `parsed: ${JSON.stringify(head)}`);
  return upstreamHead(head, clientOrigin('192.0.2.1', 'http'), '10.0.0.1:80', { traceBuf: undefined, traceAt: 0 }).toString('latin1');
}

/** What a chunked framer makes of a whole body: the index past its end, -1 or -2. */
function frame(body: string): number {
  return new ChunkedFramer().feed(Buffer.from(body, 'latin1'), 0, body.length);
}

describe('request framing the balancer refuses (smuggling)', () => {
  it('refuses a Connection header that names Content-Length, Transfer-Encoding or Host', () => {
    refusedWith('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: content-length\r\n\r\n', 400);
    refusedWith('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive, Transfer-Encoding\r\n\r\n', 400);
    refusedWith('GET / HTTP/1.1\r\nHost: x\r\nConnection: HOST\r\n\r\n', 400);
  });

  it('still drops the other headers a Connection header names, and keeps framing and Host', () => {
    const text = forwarded('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: x-hop\r\nX-Hop: 1\r\n\r\n');
    assert.match(text, /\r\nHost: x\r\n/);
    assert.match(text, /\r\nContent-Length: 5\r\n/);
    assert.doesNotMatch(text, /x-hop/i);
  });

  it('refuses two Content-Length headers, even equal ones', () => {
    refusedWith('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n', 400);
    refusedWith('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\n', 400);
  });

  it('accepts only a lone chunked Transfer-Encoding', () => {
    refusedWith('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n', 400);
    refusedWith('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n', 400);
    refusedWith('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked;x=1\r\n\r\n', 400);
    refusedWith('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: ,chunked\r\n\r\n', 400);
    refusedWith('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \r\n\r\n', 400);
    refusedWith('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n', 501);
    refusedWith('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n\r\n', 501);
    refusedWith('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n', 400);
    const head = parse('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked \r\n\r\n');
    assert.ok(!isHeadError(head) && head.chunked);
  });

  it('refuses chunk sizes followed by spaces or other junk', () => {
    assert.equal(frame('5 \r\nhello\r\n0\r\n\r\n'), -2);
    assert.equal(frame('5\t\r\nhello\r\n0\r\n\r\n'), -2);
    assert.equal(frame('5x\r\nhello\r\n0\r\n\r\n'), -2);
    assert.equal(frame('0 \r\n\r\n'), -2);
    assert.equal(frame('5;a\u0001\r\nhello\r\n0\r\n\r\n'), -2, 'a control byte in an extension');
    const ok = '5;name=value\r\nhello\r\n0\r\n\r\n';
    assert.equal(frame(ok), ok.length);
  });

  it('refuses a Content-Length, Transfer-Encoding or Host in a trailer', () => {
    for (const name of ['Content-Length: 5', 'transfer-encoding: chunked', 'HOST: y']) assert.equal(frame(`0\r\n${name}\r\n\r\n`), -2, name);
    assert.equal(frame('0\r\n folded\r\n\r\n'), -2, 'a folded trailer line');
    assert.equal(frame('0\r\nX : 1\r\n\r\n'), -2, 'a space before the colon');
    const ok = '0\r\nContent-Lengths: 5\r\nX-Host: y\r\nHost-X: z\r\n\r\n';
    assert.equal(frame(ok), ok.length, 'names that only look like the forbidden ones');
  });

  it('refuses a request target without a leading "/" or with bytes outside visible ASCII', () => {
    refusedWith('GET x HTTP/1.1\r\nHost: x\r\n\r\n', 400);
    refusedWith('GET http://evil.example/ HTTP/1.1\r\nHost: x\r\n\r\n', 400);
    refusedWith('GET * HTTP/1.1\r\nHost: x\r\n\r\n', 400);
    refusedWith('GET /caf\u00e9 HTTP/1.1\r\nHost: x\r\n\r\n', 400);
    refusedWith('GET /\u00ff HTTP/1.1\r\nHost: x\r\n\r\n', 400);
    assert.ok(!isHeadError(parse('OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n')), 'OPTIONS * is the one asterisk-form');
    assert.ok(!isHeadError(parse('GET /caf%C3%A9?q=%20 HTTP/1.1\r\nHost: x\r\n\r\n')));
  });

  it('refuses an invalid Host, a duplicate one and one over 255 bytes, which is never copied upstream', () => {
    refusedWith('GET / HTTP/1.1\r\nHost: a b\r\n\r\n', 400);
    refusedWith('GET / HTTP/1.1\r\nHost: a"b\r\n\r\n', 400);
    refusedWith('GET / HTTP/1.1\r\nHost: user@a\r\n\r\n', 400);
    refusedWith('GET / HTTP/1.1\r\nHost: a/b\r\n\r\n', 400);
    refusedWith('GET / HTTP/1.1\r\nHost: a:8x\r\n\r\n', 400);
    refusedWith('GET / HTTP/1.1\r\nHost: [::1\r\n\r\n', 400);
    refusedWith('GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n', 400);
    refusedWith(`GET / HTTP/1.1\r\nHost: ${'h'.repeat(10 * 1024)}\r\n\r\n`, 400);
    refusedWith(`GET / HTTP/1.1\r\nHost: ${'h'.repeat(256)}\r\n\r\n`, 400);
    for (const host of ['example.com', 'example.com:8080', '127.0.0.1:80', '[::1]:8080', '[fe80::1%25eth0]', '', 'xn--bcher-kva.example', 'h'.repeat(255)]) {
      assert.ok(!isHeadError(parse(`GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`)), host);
    }
  });
});

describe('request lines the balancer refuses', () => {
  it('refuses HTTP/2.0, HTTP/0.9, a missing version and doubled spaces', () => {
    refusedWith('GET / HTTP/2.0\r\nHost: x\r\n\r\n', 400);
    refusedWith('GET / HTTP/0.9\r\nHost: x\r\n\r\n', 400);
    refusedWith('GET /\r\nHost: x\r\n\r\n', 400);
    refusedWith('GET / \r\nHost: x\r\n\r\n', 400);
    refusedWith('GET  / HTTP/1.1\r\nHost: x\r\n\r\n', 400);
    refusedWith('GET /  HTTP/1.1\r\nHost: x\r\n\r\n', 400);
    refusedWith('GET / HTTP/1.1 \r\nHost: x\r\n\r\n', 400);
    refusedWith('GET / http/1.1\r\nHost: x\r\n\r\n', 400);
  });

  it('does not pass a TE header upstream (hop-by-hop), whatever it lists', () => {
    assert.doesNotMatch(forwarded('GET / HTTP/1.1\r\nHost: x\r\nTE: gzip, chunked\r\n\r\n'), /\r\nte:/i);
  });
});
