import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { composeChain, ShoalError, type OutboundAttempt, type OutboundCall } from '../../src/core/index.ts';
import { circuitBreakerPlugin, retryPlugin, timeoutPlugin } from '../../src/runtime/index.ts';

function outboundCall(idempotent: boolean): OutboundCall {
  return { service: 's', version: 1, action: 'a', params: {}, meta: { requestId: 'r' }, idempotent, timeoutMs: 1_000, exclude: new Set(), attempts: 0 };
}

describe('retry plugin', () => {
  const failing = (errors: ShoalError[]) => async (call: OutboundCall) => {
    call.attempts++;
    const error = errors.shift();
    if (error) throw error;
    return `ok after ${call.attempts}`;
  };

  it('retries an idempotent call after a node became unavailable', async () => {
    const chain = composeChain([retryPlugin().outboundCall!], failing([new ShoalError('UNAVAILABLE', 'gone', { sent: true })]));
    assert.equal(await chain(outboundCall(true)), 'ok after 2');
  });

  it('does not retry a non-idempotent call that may have run', async () => {
    const chain = composeChain([retryPlugin().outboundCall!], failing([new ShoalError('UNAVAILABLE', 'gone', { sent: true })]));
    await assert.rejects(chain(outboundCall(false)), (e: ShoalError) => e.code === 'UNAVAILABLE');
  });

  it('retries any call that never left this process', async () => {
    const chain = composeChain([retryPlugin().outboundCall!], failing([new ShoalError('UNAVAILABLE', 'refused', { sent: false })]));
    assert.equal(await chain(outboundCall(false)), 'ok after 2');
  });

  it('never retries caller mistakes and stops at the attempt limit', async () => {
    const validation = composeChain([retryPlugin().outboundCall!], failing([new ShoalError('VALIDATION', 'bad')]));
    await assert.rejects(validation(outboundCall(true)), (e: ShoalError) => e.code === 'VALIDATION');
    const errors = Array.from({ length: 5 }, () => new ShoalError('TIMEOUT', 'slow'));
    const limited = composeChain([retryPlugin({ maxAttempts: 3 }).outboundCall!], failing(errors));
    const call = outboundCall(true);
    await assert.rejects(limited(call), (e: ShoalError) => e.code === 'TIMEOUT');
    assert.equal(call.attempts, 3);
  });
});

describe('timeout plugin', () => {
  it('sets a deadline and keeps a tighter one inherited from the parent call', async () => {
    const plugin = timeoutPlugin();
    const call = outboundCall(true);
    const before = Date.now();
    await plugin.outboundCall!(call, async () => undefined);
    assert.ok(call.meta.deadline! >= before + 1_000 && call.meta.deadline! <= Date.now() + 1_000);
    const inherited = outboundCall(true);
    inherited.meta.deadline = before + 10;
    await plugin.outboundCall!(inherited, async () => undefined);
    assert.equal(inherited.meta.deadline, before + 10);
  });
});

describe('circuit breaker plugin', () => {
  it('opens after consecutive endpoint failures, refuses, then lets one trial through', async () => {
    const breaker = circuitBreakerPlugin({ failureThreshold: 3, openMs: 50 });
    let fail = true;
    const attempt = composeChain([breaker.outboundAttempt!], async () => {
      if (fail) throw new ShoalError('UNAVAILABLE', 'down', { sent: true });
      return 'ok';
    });
    const on = (id: string): OutboundAttempt => ({ call: outboundCall(true), endpointId: id, local: false });
    for (let i = 0; i < 3; i++) await assert.rejects(attempt(on('n1')), (e: ShoalError) => e.code === 'UNAVAILABLE');
    assert.equal(breaker.endpointAvailable!('n1', outboundCall(true)), false);
    assert.equal(breaker.endpointAvailable!('n2', outboundCall(true)), true, 'other endpoints unaffected');
    await assert.rejects(attempt(on('n1')), (e: ShoalError) => e.code === 'CIRCUIT_OPEN');
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(breaker.endpointAvailable!('n1', outboundCall(true)), true, 'half-open after the open period');
    fail = false;
    assert.equal(await attempt(on('n1')), 'ok');
    assert.equal(breaker.endpointAvailable!('n1', outboundCall(true)), true);
  });

  it('does not count caller mistakes against the endpoint', async () => {
    const breaker = circuitBreakerPlugin({ failureThreshold: 2 });
    const attempt = composeChain([breaker.outboundAttempt!], async () => {
      throw new ShoalError('VALIDATION', 'bad params');
    });
    for (let i = 0; i < 5; i++) await assert.rejects(attempt({ call: outboundCall(true), endpointId: 'n1', local: false }));
    assert.equal(breaker.endpointAvailable!('n1', outboundCall(true)), true);
  });
});

describe('retry plugin when every endpoint was tried', () => {
  it('stops instead of spinning when the balancer has nothing left', async () => {
    let tries = 0;
    const chain = composeChain([retryPlugin({ maxAttempts: 5 }).outboundCall!], async () => {
      tries++;
      throw new ShoalError('UNAVAILABLE', 'none left', { sent: false, exhausted: true });
    });
    await assert.rejects(chain(outboundCall(true)), (e: ShoalError) => e.code === 'UNAVAILABLE');
    assert.equal(tries, 1);
  });

  it('bounds tries that never reached an endpoint', async () => {
    let tries = 0;
    const chain = composeChain([retryPlugin({ maxAttempts: 4 }).outboundCall!], async () => {
      tries++;
      throw new ShoalError('UNAVAILABLE', 'refused', { sent: false });
    });
    await assert.rejects(chain(outboundCall(false)));
    assert.equal(tries, 4);
  });
});
