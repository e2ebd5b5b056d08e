import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { collectInterceptors, composeChain, PluginRegistry, withMeta, type Interceptor, type OutboundCall, type Plugin } from '../../src/core/index.ts';

describe('hook chain', () => {
  it('runs interceptors outermost-first around the terminal and unwinds in reverse', async () => {
    const order: string[] = [];
    const tag = (name: string): Interceptor<number, number> => async (input, next) => {
      order.push(`${name}>`);
      const out = await next(input + 1);
      order.push(`<${name}`);
      return out * 10;
    };
    const chain = composeChain([tag('a'), tag('b')], async (input) => {
      order.push(`terminal(${input})`);
      return input;
    });
    assert.equal(await chain(0), 200);
    assert.deepEqual(order, ['a>', 'b>', 'terminal(2)', '<b', '<a']);
  });

  it('lets an interceptor short-circuit without calling next', async () => {
    let reached = false;
    const chain = composeChain<string, string>([async () => 'cached'], async () => {
      reached = true;
      return 'fresh';
    });
    assert.equal(await chain('k'), 'cached');
    assert.equal(reached, false);
  });

  it('collects only the hook kind asked for, keeping inbound and outbound apart', async () => {
    const calls: string[] = [];
    const plugins: Plugin[] = [
      { name: 'out-only', outboundCall: (c, next) => { calls.push('out'); return next(c); } },
      { name: 'in-only', inboundCall: (c, next) => { calls.push('in'); return next(c); } },
      { name: 'none' },
    ];
    assert.equal(collectInterceptors(plugins, 'outboundCall').length, 1);
    assert.equal(collectInterceptors(plugins, 'inboundCall').length, 1);
    assert.equal(collectInterceptors(plugins, 'outboundEvent').length, 0);
    const inbound = composeChain(collectInterceptors(plugins, 'inboundCall'), async () => 'done');
    await inbound({ service: 's', version: 1, action: 'a', params: {}, meta: { requestId: 'r' } });
    assert.deepEqual(calls, ['in']);
  });

  it('propagates a rejection from the terminal through every interceptor', async () => {
    const chain = composeChain<number, number>([async (i, next) => next(i)], async () => {
      throw new Error('boom');
    });
    await assert.rejects(chain(1), /boom/);
  });
});

describe('plugin registration', () => {
  it('keeps plugins in registration order once their dependencies are in', () => {
    const registry = new PluginRegistry<Plugin>().register({ name: 'auth' }).register({ name: 'audit', dependencies: ['auth'] });
    assert.deepEqual(registry.list().map((p) => p.name), ['auth', 'audit']);
    assert.equal(registry.has('audit'), true);
  });

  it('refuses a plugin whose dependency is not registered yet, naming both', () => {
    const registry = new PluginRegistry<Plugin>();
    assert.throws(
      () => registry.register({ name: 'audit', dependencies: ['auth'] }),
      (err: Error) => err.message.includes('"audit"') && err.message.includes('"auth"') && err.message.includes('not registered'),
    );
    assert.equal(registry.has('audit'), false, 'a refused plugin is not registered');
    registry.register({ name: 'auth' }).register({ name: 'audit', dependencies: ['auth'] });
    assert.equal(registry.list().length, 2);
  });

  it('refuses a dependency that only comes later in the list', () => {
    assert.throws(() => new PluginRegistry<Plugin>([{ name: 'audit', dependencies: ['auth'] }, { name: 'auth' }]), /"audit" depends on "auth"/);
  });

  it('refuses the same name twice, and a plugin without a name', () => {
    assert.throws(() => new PluginRegistry<Plugin>([{ name: 'auth' }, { name: 'auth' }]), /plugin "auth" is registered twice/);
    assert.throws(() => new PluginRegistry<Plugin>([{ name: '' }]), /needs a name/);
  });
});

describe('readonly hook inputs', () => {
  it('hands a plugin a way to pass other meta on without touching the input', async () => {
    const call: OutboundCall = { service: 's', version: 1, action: 'a', params: {}, meta: { requestId: 'r' }, idempotent: true, timeoutMs: 1_000, attempts: 0 };
    const retag: Interceptor<OutboundCall, unknown> = (input, next) => next(withMeta(input, { ...input.meta, traceparent: 'tp' }));
    let seen: OutboundCall | undefined;
    await composeChain([retag], async (input) => {
      seen = input;
    })(call);
    assert.equal(seen?.meta.traceparent, 'tp');
    assert.equal(seen?.service, 's');
    assert.equal(call.meta.traceparent, undefined, 'the caller keeps its meta');
  });
});
