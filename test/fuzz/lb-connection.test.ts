/**
 * Fuzz of a live balancer's client connections: a mutated request, sent whole on one
 * connection and cut into pieces (each its own TCP segment) on another, gets the same answer;
 * every refusal the balancer answers itself is followed by its closing the connection; the
 * balancer keeps serving throughout.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { LoadBalancer, validateConfig } from '../../src/gateway/proxy/index.ts';
import { send, sleep, startUpstream, type TestUpstream } from '../support/lb-harness.ts';
import { checkAsyncProperty, cutsOf, fractions, piecesOf } from '../support/fuzz-budget.ts';

interface Answer {
  /** The first response's status (0: none). */
  status: number;
  /** The balancer answered itself (no upstream name on the response). */
  own: boolean;
  closed: boolean;
}

/** The balancer's own answers are JSON errors; the upstream's are text (or node:http's bare 400). */
function isOwn(text: string): boolean {
  const head = text.slice(0, text.indexOf('\r\n\r\n'));
  return /\r\ncontent-type: application\/json/i.test(head);
}

/** Sends `pieces` (pausing between them) and reads the first response; waits for a close after an answer of the balancer's own. */
function exchange(port: number, pieces: Buffer[]): Promise<Answer> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    let text = '';
    let settled = false;
    const finish = (closed: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const status = /^HTTP\/1\.1 (\d{3}) /.exec(text);
      resolve({ status: status ? Number(status[1]) : 0, own: isOwn(text), closed });
    };
    const timer = setTimeout(() => finish(false), 3000);
    socket.on('error', () => undefined);
    socket.on('close', () => finish(true));
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      // An upstream's answer may leave the connection open for the next request: done.
      if (text.includes('\r\n\r\n') && !isOwn(text)) finish(false);
    });
    socket.on('connect', async () => {
      for (const piece of pieces) {
        if (socket.destroyed) return;
        socket.write(piece);
        await sleep(2);
      }
    });
  });
}

const base = [
  'GET /a HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n',
  'POST /b HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\n\r\nhello',
  'PUT /c HTTP/1.1\r\nHost: x:80\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
  'GET /d HTTP/1.0\r\nConnection: keep-alive\r\n\r\n',
  'OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
];
const junk = fc.constantFrom(' ', '\t', '\r', '\n', ':', ',', '\u0000', '\u00ff', 'chunked', 'Content-Length: 3\r\n', 'Transfer-Encoding: chunked\r\n', 'Connection: content-length\r\n', 'Host: h\r\n', '0\r\n', 'x'.repeat(300));
const mutated = fc.tuple(fc.constantFrom(...base), fc.array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom('insert', 'replace', 'delete'), junk), { maxLength: 3 })).map(([text, edits]) => {
  for (const [where, kind, bytes] of edits) {
    const at = Math.floor(where * text.length);
    if (kind === 'insert') text = text.slice(0, at) + bytes + text.slice(at);
    else if (kind === 'replace') text = text.slice(0, at) + bytes + text.slice(at + 1);
    else text = text.slice(0, at) + text.slice(at + 1);
  }
  return text;
});

describe('lb client connection fuzz', () => {
  let upstream: TestUpstream;
  let balancer: LoadBalancer;
  let port: number;

  before(async () => {
    upstream = await startUpstream('a');
    balancer = await LoadBalancer.start(
      validateConfig(
        {
          accessLog: false,
          listeners: [{ address: '127.0.0.1:0', backend: 'web', limits: { maxHeaderBytes: 1024, headersTimeout: '500ms', requestTimeout: '500ms' } }],
          backends: { web: { servers: [{ url: upstream.url }], retries: { max: 0 } } },
        },
        'fuzz',
      ),
    );
    port = Number(new URL(balancer.addresses()[0].url).port);
  });
  after(async () => {
    await balancer?.close(0);
    await upstream?.close();
  });

  it('answers a request the same whole or split, and closes after each refusal of its own', async () => {
    await checkAsyncProperty(
      'lb connection: whole vs split, refusal closes',
      150,
      fc.asyncProperty(mutated, fractions(4), async (text, cutFractions) => {
        const buf = Buffer.from(text, 'latin1');
        const [whole, split] = await Promise.all([exchange(port, [buf]), exchange(port, piecesOf(buf, cutsOf(buf.length, cutFractions)))]);
        assert.equal(split.status, whole.status, 'split and whole get the same status');
        assert.equal(split.own, whole.own);
        for (const answer of [whole, split]) if (answer.own && answer.status >= 400) assert.ok(answer.closed, `the balancer closed after its ${answer.status}`);
      }),
    );
    assert.equal((await send(balancer.addresses()[0].url)).status, 200, 'the balancer still serves');
  });
});
