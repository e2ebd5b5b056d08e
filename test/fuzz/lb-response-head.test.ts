/**
 * Fuzz of the response side: the response head parser and the relay that follows the
 * response's framing. A generated response, split anywhere, reaches the client as one response
 * with the same status and body, framed so that a strict parser reads it whole; mutated
 * responses get the same outcome however they are split; a head over the limit is refused
 * whether it comes in one read or many, and the relay never holds more than the limit.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ChunkedFramer, isHeadError, noLookups, parseRequestHead, parseResponseHead } from '../../src/gateway/proxy/index.ts';
import type { RequestHead } from '../../src/gateway/proxy/request-head.ts';
import { ResponseRelay, type RelayOwner } from '../../src/gateway/proxy/response-relay.ts';
import { checkProperty, cutsOf, fractions, piecesOf } from '../support/fuzz-budget.ts';

const MAX_RESPONSE_HEAD = 64 * 1024;

function requestHead(text: string): RequestHead {
  const buf = Buffer.from(text, 'latin1');
  const head = parseRequestHead(buf, buf.length, noLookups);
  assert.ok(!isHeadError(head));
  return head;
}

const requests = {
  get11: requestHead('GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
  get10: requestHead('GET / HTTP/1.0\r\n\r\n'),
  head11: requestHead('HEAD / HTTP/1.1\r\nHost: x\r\n\r\n'),
};

interface Outcome {
  /** What the client received. */
  out: string;
  /** 'completed', 'failed: …', 'broken', or 'open' when the upstream's bytes ran out first. */
  end: string;
  status: number;
}

/** Relays `buf` in pieces to a client that sent `request`; the upstream closes after the last piece. */
function relay(request: RequestHead, buf: Buffer, cuts: readonly number[]): Outcome {
  const outcome: Outcome = { out: '', end: 'open', status: 0 };
  const owner: RelayOwner = {
    head: request,
    clientClosing: false,
    responseHeaderBytes: Buffer.alloc(0),
    sendToClient: (data) => void (outcome.out += data.toString('latin1')),
    interim: (data) => void (outcome.out += data.toString('latin1')),
    responded: (status) => void (outcome.status = status),
    upstreamFailed: (_kind, reason) => void (outcome.end = `failed: ${reason}`),
    responseBroken: () => void (outcome.end = 'broken'),
    completed: () => void (outcome.end = 'completed'),
  };
  const relayed = new ResponseRelay(owner);
  for (const piece of piecesOf(buf, cuts)) {
    if (outcome.end !== 'open') break;
    relayed.data(piece);
  }
  if (outcome.end === 'open') relayed.upstreamEnded();
  return outcome;
}

/** Reads one response off `text` the way a strict client would: status, body, and its length. */
function readResponse(text: string, isHead: boolean): { status: number; body: string; length: number } {
  const end = text.indexOf('\r\n\r\n') + 4;
  const head = parseResponseHead(Buffer.from(text, 'latin1'), end);
  assert.ok(typeof head !== 'string', `the client's head parses: ${String(head)}`);
  if (isHead || head.status === 204 || head.status === 304) return { status: head.status, body: '', length: end };
  if (head.chunked) {
    const framer = new ChunkedFramer();
    let body = '';
    const buf = Buffer.from(text, 'latin1');
    const stop = framer.feed(buf, end, buf.length, (b, s, e) => void (body += b.toString('latin1', s, e)));
    assert.ok(stop >= 0, 'the chunked body is complete');
    return { status: head.status, body, length: stop };
  }
  if (head.contentLength >= 0) return { status: head.status, body: text.slice(end, end + head.contentLength), length: end + head.contentLength };
  return { status: head.status, body: text.slice(end), length: text.length };
}

/**
 * What the client made of an outcome: the statuses and decoded body when its bytes read as
 * responses, the raw bytes otherwise. A body that ends with the upstream's close is re-framed
 * as chunked, one chunk per read, so its bytes depend on the split and its meaning does not.
 */
function digest(outcome: Outcome, isHead: boolean): string {
  let out = outcome.out;
  let interim = '';
  while (/^HTTP\/1\.1 1\d\d /.test(out) && out.includes('\r\n\r\n')) {
    interim += out.slice(0, 12);
    out = out.slice(out.indexOf('\r\n\r\n') + 4);
  }
  try {
    const read = readResponse(out, isHead);
    return JSON.stringify([outcome.end, outcome.status, interim, read.status, read.body, out.length - read.length]);
  } catch {
    return JSON.stringify([outcome.end, outcome.status, outcome.out]);
  }
}

const bodyText = fc.string({ unit: fc.constantFrom('a', '0', '\r', '\n', ' ', '\u00ff'), maxLength: 60 });
const validResponse = fc
  .record({
    status: fc.constantFrom(200, 201, 204, 301, 304, 404, 500, 503),
    framing: fc.constantFrom('length', 'chunked', 'close'),
    body: bodyText,
    chunks: fc.array(fc.nat(60), { maxLength: 4 }),
    headers: fc.array(fc.tuple(fc.constantFrom('X-A', 'Server', 'Set-Cookie', 'Keep-Alive', 'Trailer', 'Vary'), fc.constantFrom('1', 'a b', 'v;q=1')), { maxLength: 4 }),
    interim: fc.boolean(),
    request: fc.constantFrom('get11', 'get10', 'head11') as fc.Arbitrary<keyof typeof requests>,
  })
  .map((g) => {
    const noBody = g.status === 204 || g.status === 304;
    const body = noBody ? '' : g.body;
    let head = `HTTP/1.1 ${g.status} Reason\r\n`;
    for (const [name, value] of g.headers) head += `${name}: ${value}\r\n`;
    let wire: string;
    if (g.framing === 'length' || noBody) {
      wire = `${head}Content-Length: ${body.length}\r\n\r\n${g.request === 'head11' ? '' : body}`;
    } else if (g.framing === 'chunked') {
      let encoded = '';
      let at = 0;
      for (const size of [...g.chunks, body.length]) {
        const piece = body.slice(at, at + size);
        if (piece.length === 0) continue;
        encoded += `${piece.length.toString(16)}\r\n${piece}\r\n`;
        at += piece.length;
      }
      wire = `${head}Transfer-Encoding: chunked\r\n\r\n${g.request === 'head11' ? '' : `${encoded}0\r\n\r\n`}`;
    } else {
      wire = `${head}Connection: close\r\n\r\n${g.request === 'head11' ? '' : body}`;
    }
    if (g.interim) wire = `HTTP/1.1 100 Continue\r\n\r\n${wire}`;
    return { wire, g, body: g.request === 'head11' ? '' : body };
  });

const junk = fc.constantFrom(' ', '\r', '\n', ':', '0', 'x', '\u0000', 'Content-Length: 3\r\n', 'Transfer-Encoding: chunked\r\n', '\r\n\r\n', 'HTTP/1.1 200 OK\r\n');
const mutatedResponse = fc
  .tuple(validResponse, fc.array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom('insert', 'replace', 'delete'), junk), { minLength: 1, maxLength: 3 }))
  .map(([{ wire, g }, edits]) => {
    let text = wire;
    for (const [where, kind, bytes] of edits) {
      const at = Math.floor(where * text.length);
      if (kind === 'insert') text = text.slice(0, at) + bytes + text.slice(at);
      else if (kind === 'replace') text = text.slice(0, at) + bytes + text.slice(at + 1);
      else text = text.slice(0, at) + text.slice(at + 1);
    }
    return { text, request: g.request };
  });

describe('response head parser and relay fuzz', () => {
  it('relays a generated response as one response with the same status and body, for every split', () => {
    checkProperty(
      'response relay: valid responses',
      1500,
      fc.property(validResponse, fractions(), ({ wire, g, body }, cutFractions) => {
        const buf = Buffer.from(wire, 'latin1');
        const outcome = relay(requests[g.request], buf, cutsOf(buf.length, cutFractions));
        assert.equal(outcome.end, 'completed');
        assert.equal(outcome.status, g.status);
        let out = outcome.out;
        if (g.interim && g.request !== 'get10') {
          assert.ok(out.startsWith('HTTP/1.1 100 Continue\r\n'), 'the interim response went first');
          out = out.slice(out.indexOf('\r\n\r\n') + 4);
        }
        const read = readResponse(out, g.request === 'head11');
        assert.equal(read.status, g.status);
        assert.equal(read.body, body);
        assert.equal(read.length, out.length, 'one response and nothing after it');
        const isHead = g.request === 'head11';
        assert.equal(digest(relay(requests[g.request], buf, []), isHead), digest(outcome, isHead), 'whole and split give the same');
      }),
    );
  });

  it('gives a mutated response the same outcome however it is split', () => {
    checkProperty(
      'response relay: mutated responses',
      3000,
      fc.property(mutatedResponse, fractions(), ({ text, request }, cutFractions) => {
        const buf = Buffer.from(text, 'latin1');
        const isHead = request === 'head11';
        const whole = digest(relay(requests[request], buf, []), isHead);
        assert.equal(digest(relay(requests[request], buf, cutsOf(buf.length, cutFractions)), isHead), whole);
        const end = text.indexOf('\r\n\r\n');
        if (end !== -1) parseResponseHead(buf, end + 4);
      }),
    );
  });

  it('refuses a response head over the limit however it arrives', () => {
    checkProperty(
      'response relay: oversized heads',
      60,
      fc.property(fc.integer({ min: MAX_RESPONSE_HEAD + 1, max: 3 * MAX_RESPONSE_HEAD }), fc.boolean(), fractions(3), (size, complete, cutFractions) => {
        const head = `HTTP/1.1 200 OK\r\nX-Big: ${'b'.repeat(size)}\r\n${complete ? 'Content-Length: 2\r\n\r\nok' : ''}`;
        const buf = Buffer.from(head, 'latin1');
        const outcome = relay(requests.get11, buf, cutsOf(buf.length, cutFractions));
        assert.equal(outcome.end, 'failed: response head too large');
        assert.equal(outcome.out, '', 'nothing reached the client');
      }),
    );
  });
});
