import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { collectInterceptors, composeChain, type Interceptor, type Plugin } from '../../src/core/index.ts';

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
