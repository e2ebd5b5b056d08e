/**
 * Memory of `shoal lb` under clients that are refused and keep sending: 100 connections each
 * send a malformed request and then stream junk for a few seconds. The balancer must answer,
 * drop what follows, and close each connection; its resident memory stays near where it
 * started (a balancer that kept the input would grow by megabytes per connection).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { send, sleep, startLb, startUpstream, tempConfig, type LbProcess, type TestUpstream } from '../support/lb-harness.ts';
import { residentBytes, sendAndKeepSending } from '../support/lb-raw-client.ts';

const CONNECTIONS = 100;
/** Growth allowed over the baseline: a few buffers per connection, far below one copy of the input. */
const BOUND_BYTES = 64 * 1024 * 1024;
const MB = 1024 * 1024;

describe('shoal lb memory under refused clients that keep sending', () => {
  let upstream: TestUpstream;
  let lb: LbProcess;
  let port: number;
  let config: Awaited<ReturnType<typeof tempConfig>>;

  before(async () => {
    upstream = await startUpstream('a');
    config = await tempConfig(`accessLog: false
listeners:
  - address: 127.0.0.1:0
    backend: web
backends:
  web:
    servers:
      - url: ${upstream.url}
`);
    lb = await startLb(['--config', config.path]);
    port = Number(new URL(lb.urls[0]).port);
  });
  after(async () => {
    await lb?.stop();
    await upstream?.close();
    await config?.remove();
  });

  it('keeps RSS bounded and closes every refused connection', { skip: residentBytes(process.pid) === undefined ? 'no /proc to read RSS from' : false }, async () => {
    const pid = lb.child.pid!;
    // Warm up the paths a refusal takes, so the baseline includes their code and buffers.
    for (let i = 0; i < 5; i++) assert.equal((await send(lb.urls[0])).status, 200);
    await sleep(200);
    const baseline = residentBytes(pid)!;
    let peak = baseline;
    const sampler = setInterval(() => {
      const now = residentBytes(pid);
      if (now !== undefined && now > peak) peak = now;
    }, 50);
    const senders = Array.from({ length: CONNECTIONS }, (_, i) =>
      // A mix of refusals: malformed request line, invalid Host, smuggling attempt.
      sendAndKeepSending(port, [`GARBAGE ${i}\r\n\r\n`, 'GET / HTTP/1.1\r\nHost: a b\r\n\r\n', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: content-length\r\n\r\n'][i % 3], {
        chunkBytes: 64 * 1024,
        everyMs: 2,
        maxMs: 20_000,
      }),
    );
    const closed = await Promise.all(senders.map((sender) => sender.closed));
    clearInterval(sampler);
    const last = residentBytes(pid)!;
    const sentBytes = senders.reduce((sum, sender) => sum + sender.sent(), 0);
    console.log(
      `lb RSS with ${CONNECTIONS} refused connections that keep sending: before ${(baseline / MB).toFixed(1)} MB, peak ${(peak / MB).toFixed(1)} MB, after ${(last / MB).toFixed(1)} MB; clients wrote ${(sentBytes / MB).toFixed(0)} MB after their refused requests`,
    );
    assert.equal(closed.filter((was) => was).length, CONNECTIONS, 'the balancer closed every refused connection');
    for (const sender of senders) assert.match(sender.text(), /^HTTP\/1\.1 400 /);
    assert.ok(peak - baseline < BOUND_BYTES, `RSS grew by ${((peak - baseline) / MB).toFixed(1)} MB (bound ${BOUND_BYTES / MB} MB)`);
    assert.equal((await send(lb.urls[0])).status, 200, 'the balancer still serves');
  });
});
