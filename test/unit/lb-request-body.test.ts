import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BODY_MALFORMED, BODY_TOO_LARGE, isHeadError, noLookups, parseRequestHead, REPLAY_LIMIT, RequestBody } from '../../src/gateway/proxy/index.ts';

function headOf(text: string) {
  const buf = Buffer.from(text, 'latin1');
  const head = parseRequestHead(buf, buf.length, noLookups);
  if (isHeadError(head)) throw new Error(head.message);
  return head;
}

const bytes = (text: string): Buffer => Buffer.from(text, 'latin1');

describe('RequestBody', () => {
  it('ends a Content-Length body after its length, across pieces', () => {
    const body = new RequestBody(headOf('PUT / HTTP/1.1\r\nhost: a\r\ncontent-length: 5\r\n\r\n'), true);
    assert.equal(body.take(bytes('abc'), 0, 3, 0), 3);
    assert.equal(body.done, false);
    const rest = bytes('deGET / HTTP/1.1\r\n');
    assert.equal(body.take(rest, 0, rest.length, 0), 2, 'stops where the next request starts');
    assert.equal(body.done, true);
  });

  it('finds the end of a chunked body and refuses malformed chunks', () => {
    const body = new RequestBody(headOf('PUT / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\n'), true);
    const data = bytes('3\r\nabc\r\n0\r\n\r\nnext');
    assert.equal(body.take(data, 0, data.length, 0), data.length - 4);
    assert.equal(body.done, true);
    const broken = new RequestBody(headOf('PUT / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\n'), true);
    const bad = bytes('zz\r\n');
    assert.equal(broken.take(bad, 0, bad.length, 0), BODY_MALFORMED);
  });

  it('measures a chunked body against the limit as it flows', () => {
    const body = new RequestBody(headOf('POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\n'), false);
    const data = bytes('4\r\nabcd\r\n');
    assert.equal(body.take(data, 0, data.length, 4), data.length);
    const more = bytes('1\r\ne\r\n');
    assert.equal(body.take(more, 0, more.length, 4), BODY_TOO_LARGE);
  });

  it('keeps what was sent for a retry up to the replay limit, then nothing', () => {
    const body = new RequestBody(headOf(`PUT / HTTP/1.1\r\nhost: a\r\ncontent-length: ${REPLAY_LIMIT + 1}\r\n\r\n`), true);
    const half = Buffer.alloc(REPLAY_LIMIT / 2);
    body.keep(half);
    body.keep(half);
    assert.equal(body.replayable, true);
    assert.equal(body.replay?.length, 2);
    body.keep(Buffer.alloc(1));
    assert.equal(body.replayable, false);
    assert.equal(body.replay, undefined);
  });

  it('keeps nothing of a body no retry will ask for', () => {
    const body = new RequestBody(headOf('POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 3\r\n\r\n'), false);
    body.keep(bytes('abc'));
    assert.equal(body.replayable, false);
    assert.equal(body.replay, undefined);
  });
});
