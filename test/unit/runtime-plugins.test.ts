import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { composeChain, PluginRegistry, ShoalError, type OutboundAttempt, type OutboundCall } from '../../src/core/index.ts';
import { circuitBreakerPlugin, retryPlugin, timeoutPlugin } from '../../src/runtime/index.ts';
import { tightestDeadline } from '../../src/runtime/call-dispatcher.ts';
import { ManualClock } from '../support/manual-clock.ts';

function outboundCall(idempotent: boolean, deadline?: number): OutboundCall {
  const meta = deadline === undefined ? { requestId: 'r' } : { requestId: 'r', deadline };
  return { service: 's', version: 1, action: 'a', params: {}, meta, idempotent, timeoutMs: 1_000, exclude: new Set(), attempts: 0 };
}

describe('retry plugin', () => {
  // Stands in for the broker's dispatch, which keeps the count of attempts.
  const attemptsOf = new WeakMap<OutboundCall, number>();
  const failing = (errors: ShoalError[]) => async (call: OutboundCall) => {
    const attempts = (attemptsOf.get(call) ?? 0) + 1;
    attemptsOf.set(call, attempts);
    const error = errors.shift();
    if (error) throw error;
    return `ok after ${attempts}`;
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
    assert.equal(attemptsOf.get(call), 3);
  });
});

describe('timeout plugin', () => {
  it('sets a deadline and keeps a tighter one inherited from the parent call', () => {
    const plugins = [timeoutPlugin()];
    const before = Date.now();
    const deadline = tightestDeadline(plugins, outboundCall(true), Date.now());
    assert.ok(deadline! >= before + 1_000 && deadline! <= Date.now() + 1_000);
    assert.equal(tightestDeadline(plugins, outboundCall(true, before + 10), Date.now()), before + 10);
  });

  it('leaves the call and its meta as they were', () => {
    const call = outboundCall(true);
    const meta = call.meta;
    tightestDeadline([timeoutPlugin()], call, Date.now());
    assert.equal(call.meta, meta);
    assert.equal(meta.deadline, undefined);
  });
});

describe('circuit breaker plugin', () => {
  it('opens after consecutive endpoint failures, refuses, then lets one trial through', async () => {
    const clock = new ManualClock(1_000);
    const breaker = circuitBreakerPlugin({ failureThreshold: 3, openMs: 50, now: clock.now });
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
    clock.advance(49);
    assert.equal(breaker.endpointAvailable!('n1', outboundCall(true)), false, 'still open just before the open period ends');
    clock.advance(1);
    assert.equal(breaker.endpointAvailable!('n1', outboundCall(true)), true, 'half-open after the open period');
    await assert.rejects(attempt(on('n1')), (e: ShoalError) => e.code === 'UNAVAILABLE', 'the trial fails');
    assert.equal(breaker.endpointAvailable!('n1', outboundCall(true)), false, 'a failed trial opens the circuit again');
    clock.advance(50);
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

describe('built-in plugins at registration', () => {
  it('each has a name of its own', () => {
    const names = [timeoutPlugin(), retryPlugin(), circuitBreakerPlugin()].map((p) => p.name);
    assert.deepEqual(names, ['shoal:timeout', 'shoal:retry', 'shoal:circuit-breaker']);
  });

  it('register in the built-in order', () => {
    const registry = new PluginRegistry([timeoutPlugin(), retryPlugin(), circuitBreakerPlugin()]);
    assert.deepEqual(registry.list().map((p) => p.name), ['shoal:timeout', 'shoal:retry', 'shoal:circuit-breaker']);
  });

  it('refuse retry without the timeout that bounds it', () => {
    assert.throws(() => new PluginRegistry([retryPlugin()]), /plugin "shoal:retry" depends on "shoal:timeout", which is not registered/);
    assert.throws(() => new PluginRegistry([retryPlugin(), timeoutPlugin()]), /register "shoal:timeout" before "shoal:retry"/);
  });
});
