import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { action, defineService, ShoalError, z, type Plugin } from '../../src/core/index.ts';
import type { RuntimePlugin } from '../../src/runtime/index.ts';
import { RuntimeHarness } from '../support/runtime-harness.ts';

const greeter = (who: string) =>
  defineService({
    name: 'greeter',
    version: 1,
    actions: {
      hello: action({ params: z.object({ name: z.string().min(1), times: z.number().int().positive().optional() }), idempotent: true, handler: (ctx, p) => ({ text: `hello ${p.name}`.repeat(p.times ?? 1), by: who, node: ctx.nodeId }) }),
      fail: action({ params: z.object({}), handler: () => { throw new ShoalError('CONFLICT', 'always conflicts', { why: 'test' }); } }),
    },
  });

const greeterV2 = defineService({
  name: 'greeter',
  version: 2,
  actions: { hello: action({ params: z.object({ name: z.string() }), handler: (_ctx, p) => ({ text: `hi ${p.name} (v2)` }) }) },
});

const received: Array<{ node: string; payload: unknown }> = [];
const listener = () =>
  defineService({
    name: 'listener',
    version: 1,
    actions: {},
    events: {
      'thing.happened': { schema: z.object({ n: z.number() }), handler: (ctx, payload) => { received.push({ node: ctx.nodeId, payload }); } },
    },
  });

describe('service broker across processes of one cluster', () => {
  const harness = new RuntimeHarness();
  before(() => harness.start());
  after(() => harness.stop());

  it('calls a remote action, validates params, keeps error codes, and addresses versions apart', async () => {
    await harness.broker('a', [greeter('a'), greeterV2]);
    const caller = await harness.broker('caller', [], { listen: false, role: 'gateway' });
    await harness.waitForEndpoints(caller, 'greeter', 1, 1);
    await harness.waitForEndpoints(caller, 'greeter', 2, 1);

    assert.deepEqual(await caller.call('greeter', 1, 'hello', { name: 'ann' }), { text: 'hello ann', by: 'a', node: 'a' });
    assert.deepEqual(await caller.call('greeter', 2, 'hello', { name: 'ann' }), { text: 'hi ann (v2)' });

    await assert.rejects(caller.call('greeter', 1, 'hello', { name: '', times: -1 }), (err: ShoalError) => {
      assert.equal(err.code, 'VALIDATION');
      assert.equal(err.httpStatus, 422);
      const fields = (err.details as { fields: Array<{ field: string }> }).fields.map((f) => f.field).sort();
      assert.deepEqual(fields, ['name', 'times']);
      return true;
    });
    await assert.rejects(caller.call('greeter', 1, 'fail', {}), (err: ShoalError) => err.code === 'CONFLICT' && (err.details as { why: string }).why === 'test');
    await assert.rejects(caller.call('greeter', 3, 'hello', { name: 'x' }), (err: ShoalError) => err.code === 'NOT_FOUND' && /no version 3/.test(err.message));
    await assert.rejects(caller.call('nobody', 1, 'hello', {}), (err: ShoalError) => err.code === 'NOT_FOUND');
    await assert.rejects(caller.call('greeter', 1, 'nope', {}), (err: ShoalError) => err.code === 'NOT_FOUND');
  });

  it('spreads calls over nodes and retries an idempotent call when a node dies', async () => {
    await harness.broker('b', [greeter('b')]);
    await harness.broker('c', [greeter('c')]);
    const caller = await harness.broker('caller2', [], { listen: false, role: 'gateway' });
    await harness.waitForEndpoints(caller, 'greeter', 1, 3);
    const served = new Map<string, number>();
    for (let i = 0; i < 90; i++) {
      const { servedBy } = await caller.callWithOrigin('greeter', 1, 'hello', { name: 'x' });
      served.set(servedBy!, (served.get(servedBy!) ?? 0) + 1);
    }
    assert.deepEqual([...served.values()], [30, 30, 30], `round robin spread: ${JSON.stringify([...served])}`);

    // Stopping b abruptly (transport closed, membership not left) is what a crash looks like to peers.
    await harness.crash('b');
    for (let i = 0; i < 30; i++) {
      const { servedBy } = await caller.callWithOrigin('greeter', 1, 'hello', { name: 'x' });
      assert.notEqual(servedBy, 'b');
    }
  });

  it('delivers emitted events to one instance per service and broadcasts to all', async () => {
    await harness.broker('l1', [listener()]);
    await harness.broker('l2', [listener()]);
    const emitter = await harness.broker('emitter', [], { listen: false });
    await harness.waitForEndpoints(emitter, 'listener', 1, 2);
    received.length = 0;
    for (let n = 0; n < 10; n++) await emitter.emit('thing.happened', { n }, 'emit');
    await emitter.emit('thing.happened', { n: 100 }, 'broadcast');
    await emitter.emit('thing.happened', { bad: true }, 'broadcast');
    const until = Date.now() + 5_000;
    while (received.length < 12 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    const emitted = received.filter((r) => (r.payload as { n: number }).n < 100);
    assert.equal(emitted.length, 10);
    assert.ok(emitted.some((r) => r.node === 'l1') && emitted.some((r) => r.node === 'l2'), 'emit balanced over instances');
    assert.deepEqual(received.filter((r) => (r.payload as { n: number }).n === 100).map((r) => r.node).sort(), ['l1', 'l2']);
    assert.equal(received.length, 12, 'payload failing the schema is dropped');
  });

  it('runs plugins on calls: outbound and inbound chains kept apart', async () => {
    const seen: string[] = [];
    const spy: Plugin = {
      name: 'spy',
      outboundCall: (call, next) => { seen.push(`out:${call.service}.${call.action}`); return next(call); },
      inboundCall: (call, next) => { seen.push(`in:${call.service}.${call.action}`); return next(call); },
    };
    await harness.broker('p1', [defineService({ name: 'echo', version: 1, actions: { echo: action({ params: z.object({ v: z.string() }), handler: (_c, p) => p.v }) } })], { plugins: [spy] });
    const caller = await harness.broker('p2', [], { listen: false, plugins: [spy] });
    await harness.waitForEndpoints(caller, 'echo', 1, 1);
    assert.equal(await caller.call('echo', 1, 'echo', { v: 'x' }), 'x');
    assert.deepEqual(seen, ['out:echo.echo', 'in:echo.echo']);
  });

  it('uses a balancing strategy brought by a user plugin and observes lifecycle', async () => {
    const lifecycle: string[] = [];
    const pinned: RuntimePlugin = {
      name: 'pin-to-last',
      strategies: {
        'last-id': () => ({ name: 'last-id', pick: (endpoints) => [...endpoints].sort((a, b) => (a.id < b.id ? 1 : -1))[0] }),
      },
      nodeStarted: (info) => { lifecycle.push(`started:${info.nodeId}`); },
    };
    const sticky = (id: string) =>
      defineService({ name: 'sticky', version: 1, balancing: 'last-id', actions: { who: action({ params: z.object({}), handler: () => id }) } });
    await harness.broker('s1', [sticky('s1')]);
    await harness.broker('s2', [sticky('s2')]);
    const caller = await harness.broker('s-caller', [], { listen: false, plugins: [pinned] });
    await harness.waitForEndpoints(caller, 'sticky', 1, 2);
    for (let i = 0; i < 10; i++) assert.equal(await caller.call('sticky', 1, 'who', {}), 's2');
    assert.deepEqual(lifecycle, ['started:s-caller']);
  });

  it('lets a caller override the balancing strategy per route', async () => {
    const lastId: RuntimePlugin = {
      name: 'last-id',
      strategies: { 'last-id': () => ({ name: 'last-id', pick: (endpoints) => [...endpoints].sort((a, b) => (a.id < b.id ? 1 : -1))[0] }) },
    };
    const spread = (id: string) => defineService({ name: 'spread', version: 1, actions: { who: action({ params: z.object({}), handler: () => id }) } });
    await harness.broker('r1', [spread('r1')]);
    await harness.broker('r2', [spread('r2')]);
    const plain = await harness.broker('r-plain', [], { listen: false });
    const pinned = await harness.broker('r-pinned', [], { listen: false, plugins: [lastId], balancing: { 'spread@1': 'last-id' } });
    await harness.waitForEndpoints(plain, 'spread', 1, 2);
    await harness.waitForEndpoints(pinned, 'spread', 1, 2);
    const plainAnswers = new Set<unknown>();
    for (let i = 0; i < 6; i++) plainAnswers.add(await plain.call('spread', 1, 'who', {}));
    assert.deepEqual([...plainAnswers].sort(), ['r1', 'r2']);
    for (let i = 0; i < 6; i++) assert.equal(await pinned.call('spread', 1, 'who', {}), 'r2');
  });
});
