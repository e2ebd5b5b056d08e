import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { accessLogLine } from '../../src/gateway/proxy/index.ts';

const head = { method: 'GET', target: '/links/abc?x=1' };

describe('accessLogLine', () => {
  it('writes the fields of a proxied request in a fixed order', () => {
    const line = accessLogLine(head, '10.0.0.7', 200, '127.0.0.1:9001', 12, 345, '4bf92f3577b34da6a3ce929d0e0e4736', 2, undefined);
    assert.deepEqual(line, {
      method: 'GET',
      path: '/links/abc?x=1',
      status: 200,
      upstream: '127.0.0.1:9001',
      durationMs: 12,
      bytes: 345,
      clientIp: '10.0.0.7',
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      tries: 2,
    });
    assert.equal(JSON.stringify(line), '{"method":"GET","path":"/links/abc?x=1","status":200,"upstream":"127.0.0.1:9001","durationMs":12,"bytes":345,"clientIp":"10.0.0.7","traceId":"4bf92f3577b34da6a3ce929d0e0e4736","tries":2}');
  });

  it('writes null for a request that reached no server and had no trace', () => {
    const line = accessLogLine({ method: 'POST', target: '/upload' }, '::1', 429, undefined, 0, 98, null, 0, undefined);
    assert.equal(line.upstream, null);
    assert.equal(line.traceId, null);
    assert.equal(line.tries, 0);
    assert.equal('error' in line, false, 'no error field when nothing was cut short');
  });

  it('names why an answer was cut short, last', () => {
    const line = accessLogLine(head, '10.0.0.7', 200, 'a', 300, 10, null, 1, 'upstream sent nothing for 300ms');
    assert.equal(line.error, 'upstream sent nothing for 300ms');
    assert.deepEqual(Object.keys(line).at(-1), 'error');
  });
});
