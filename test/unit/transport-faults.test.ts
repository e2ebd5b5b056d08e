/**
 * withFaults on real TCP transports on loopback: partitions (both ways and one way), latency,
 * lost messages and expiry. The plan's clock is a ManualClock, so latency, expiry and lost
 * requests' deadlines move only when a test advances it; the network itself is real.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { ShoalError } from '../../src/core/errors.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { seededRandom } from '../../src/core/index.ts';
import { addressKey, FaultPlan, withFaults, type PeerAddress, type Transport } from '../../src/transport/index.ts';
import { createTcpTransport } from '../../src/transport/tcp/index.ts';
import { eventually } from '../support/eventually.ts';
import { ManualClock } from '../support/manual-clock.ts';
import { expectShoalError } from '../support/shoal-errors.ts';

const SECRET = 'faults-secret';
const HOST = '127.0.0.1';
const opened: Transport[] = [];

interface Node {
  transport: Transport;
  plan: FaultPlan;
  clock: ManualClock;
  address: PeerAddress;
  /** Requests its handler ran, by payload. */
  requests: unknown[];
  notes: unknown[];
}

async function node(nodeId: string, random?: () => number): Promise<Node> {
  const clock = new ManualClock();
  const plan = new FaultPlan({ clock, ...(random === undefined ? {} : { random }) });
  const transport = withFaults(createTcpTransport({ nodeId, secret: SECRET, logger: silentLogger }), plan);
  opened.push(transport);
  const requests: unknown[] = [];
  const notes: unknown[] = [];
  transport.onRequest(async (payload, from) => {
    requests.push(payload);
    return { by: nodeId, from: from.nodeId, echo: payload };
  });
  transport.onNotify((payload) => notes.push(payload));
  const address = await transport.listen({ host: HOST, port: 0 });
  return { transport, plan, clock, address, requests, notes };
}

const sentOf = (err: ShoalError): unknown => (err.details as { sent?: unknown } | undefined)?.sent;

/** Settles to 'pending' if the promise has not settled by the time queued I/O has had a turn. */
async function stateOf(promise: Promise<unknown>): Promise<'resolved' | 'rejected' | 'pending'> {
  const marker = Symbol('pending');
  const winner = await Promise.race([
    promise.then(
      () => 'resolved' as const,
      () => 'rejected' as const,
    ),
    new Promise<symbol>((resolve) => setImmediate(() => resolve(marker))),
  ]);
  return winner === marker ? 'pending' : (winner as 'resolved' | 'rejected');
}

afterEach(async () => {
  await Promise.all(opened.splice(0).map((t) => t.close()));
});

describe('withFaults: partitions', () => {
  it('fails requests and one-way messages to a partitioned peer fast with UNAVAILABLE (not sent), and heals when cleared', async () => {
    const a = await node('a');
    const b = await node('b');
    assert.deepEqual(await a.transport.request(b.address, 1, { timeoutMs: 5000 }), { by: 'b', from: 'a', echo: 1 });

    a.plan.set(addressKey(b.address), { partition: 'both' });
    const err = await expectShoalError(a.transport.request(b.address, 2, { timeoutMs: 5000 }), 'UNAVAILABLE');
    assert.equal(sentOf(err), false);
    assert.equal(sentOf(await expectShoalError(a.transport.notify(b.address, 'n'), 'UNAVAILABLE')), false);

    a.plan.clear(addressKey(b.address));
    assert.deepEqual(await a.transport.request(b.address, 3, { timeoutMs: 5000 }), { by: 'b', from: 'a', echo: 3 });
    assert.deepEqual(b.requests, [1, 3]);
    assert.deepEqual(b.notes, []);
  });

  it('matches a peer by the node id the caller names it by, and names it so in the error', async () => {
    const a = await node('a');
    const b = await node('b');
    a.plan.set('b', { partition: 'out' });
    const err = await expectShoalError(a.transport.request(b.address, 1, { timeoutMs: 5000, peerName: 'b' }), 'UNAVAILABLE');
    assert.equal(sentOf(err), false);
    assert.doesNotMatch(err.message, /127\.0\.0\.1/);
    assert.deepEqual(b.requests, []);
  });

  it('heals by itself when the partition expires', async () => {
    const a = await node('a');
    const b = await node('b');
    a.plan.set('*', { partition: 'out', forMs: 10_000 });
    assert.equal(a.plan.list()[0].until, 10_000);
    await expectShoalError(a.transport.request(b.address, 1, { timeoutMs: 5000 }), 'UNAVAILABLE');
    a.clock.advance(9_999);
    await expectShoalError(a.transport.request(b.address, 2, { timeoutMs: 5000 }), 'UNAVAILABLE');
    a.clock.advance(1);
    assert.equal(a.plan.active, false);
    assert.deepEqual(await a.transport.request(b.address, 3, { timeoutMs: 5000 }), { by: 'b', from: 'a', echo: 3 });
    assert.equal(a.clock.pendingTimers, 0);
  });

  it("one way out: this node cannot reach the peer, the peer still reaches this node", async () => {
    const a = await node('a');
    const b = await node('b');
    a.plan.set(addressKey(b.address), { partition: 'out' });
    await expectShoalError(a.transport.request(b.address, 1, { timeoutMs: 5000 }), 'UNAVAILABLE');
    assert.deepEqual(await b.transport.request(a.address, 2, { timeoutMs: 5000 }), { by: 'a', from: 'b', echo: 2 });
    await b.transport.notify(a.address, 'to-a');
    await eventually(() => a.notes.length === 1, { message: 'the one-way message to reach a' });
    assert.deepEqual(b.requests, []);
  });

  it('one way in: what the peer sends is dropped before any handler runs and the sender times out; this node still reaches the peer', async () => {
    const a = await node('a');
    const b = await node('b');
    a.plan.set('b', { partition: 'in' });
    await b.transport.notify(a.address, 'lost');
    await expectShoalError(b.transport.request(a.address, 1, { timeoutMs: 50 }), 'TIMEOUT');
    assert.deepEqual(await a.transport.request(b.address, 2, { timeoutMs: 5000 }), { by: 'b', from: 'a', echo: 2 });
    assert.deepEqual(a.requests, []);

    a.plan.clear();
    await b.transport.notify(a.address, 'after');
    assert.deepEqual(await b.transport.request(a.address, 3, { timeoutMs: 5000 }), { by: 'a', from: 'b', echo: 3 });
    assert.deepEqual(a.requests, [3]);
    assert.deepEqual(a.notes, ['after']);
  });

  it('with reject, refuses what the peer sends at once: UNAVAILABLE, not sent, and no handler runs', async () => {
    const a = await node('a');
    const b = await node('b');
    a.plan.set('b', { partition: 'in', reject: true });
    const err = await expectShoalError(b.transport.request(a.address, 1, { timeoutMs: 10_000 }), 'UNAVAILABLE');
    assert.equal(sentOf(err), false);
    assert.deepEqual(a.requests, []);
    a.plan.clear();
    assert.deepEqual(await b.transport.request(a.address, 2, { timeoutMs: 5000 }), { by: 'a', from: 'b', echo: 2 });
  });

  it('answers a dropped inbound request UNAVAILABLE (not sent) once the partition heals, without running it', async () => {
    const a = await node('a');
    const b = await node('b');
    a.plan.set('b', { partition: 'in' });
    const pending = b.transport.request(a.address, 1, { timeoutMs: 10_000 });
    await eventually(() => b.transport.stats().inflight === 1 && a.transport.stats().connections > 0, { message: 'the request to be in flight' });
    assert.equal(await stateOf(pending), 'pending');
    a.plan.clear('b');
    const err = await expectShoalError(pending, 'UNAVAILABLE');
    assert.equal(sentOf(err), false);
    assert.deepEqual(a.requests, []);
  });
});

describe('withFaults: latency', () => {
  it('delays requests to one peer: a request to C sent after one to B answers first', async () => {
    const a = await node('a');
    const b = await node('b');
    const c = await node('c');
    a.plan.set(addressKey(b.address), { latencyMs: 200 });
    const order: string[] = [];
    const toB = a.transport.request(b.address, 'b1', { timeoutMs: 5000 }).then(() => order.push('b'));
    const toC = a.transport.request(c.address, 'c1', { timeoutMs: 5000 }).then(() => order.push('c'));
    await toC;
    assert.deepEqual(b.requests, [], 'the request to B has not left yet');
    assert.equal(a.transport.stats().inflight, 1);

    a.clock.advance(200);
    // It left; its answer is held back the same 200 ms before the caller sees it.
    await eventually(() => b.requests.length === 1 && a.clock.pendingTimers === 2, { message: 'the answer from B to be held back' });
    assert.deepEqual(order, ['c']);
    a.clock.advance(200);
    await toB;
    assert.deepEqual(order, ['c', 'b']);
  });

  it('keeps one-way messages in order and ahead of a later request, whatever jitter each draws', async () => {
    const a = await node('a', seededRandom(7));
    const b = await node('b');
    a.plan.set(addressKey(b.address), { latencyMs: 10, jitterMs: 500 });
    const sent = Array.from({ length: 30 }, (_, i) => a.transport.notify(b.address, i));
    const answer = a.transport.request(b.address, 'after', { timeoutMs: 60_000 });
    a.clock.advance(1000);
    await Promise.all(sent);
    await eventually(() => b.requests.length === 1, { message: 'the request to reach b' });
    assert.deepEqual(b.notes, Array.from({ length: 30 }, (_, i) => i));
    a.clock.advance(1000);
    assert.deepEqual(await answer, { by: 'b', from: 'a', echo: 'after' });
  });

  it('fails with TIMEOUT when the latency outlasts the timeout, without sending', async () => {
    const a = await node('a');
    const b = await node('b');
    a.plan.set('*', { latencyMs: 1000 });
    const pending = a.transport.request(b.address, 1, { timeoutMs: 500 });
    a.clock.advance(500);
    await expectShoalError(pending, 'TIMEOUT');
    a.clock.advance(1000);
    assert.deepEqual(b.requests, []);
  });

  it('close() fails requests and one-way messages held back by latency with UNAVAILABLE', async () => {
    const a = await node('a');
    const b = await node('b');
    a.plan.set('*', { latencyMs: 1000 });
    const request = a.transport.request(b.address, 1, { timeoutMs: 5000 });
    const note = a.transport.notify(b.address, 'n');
    await a.transport.close();
    assert.equal(sentOf(await expectShoalError(request, 'UNAVAILABLE')), false);
    assert.equal(sentOf(await expectShoalError(note, 'UNAVAILABLE')), false);
    await expectShoalError(a.transport.request(b.address, 2, { timeoutMs: 5000 }), 'UNAVAILABLE');
    assert.equal(a.clock.pendingTimers, 0);
  });
});

describe('withFaults: lost messages', () => {
  /** Which of `count` messages a plan seeded so drops, replaying its random source. */
  function expectedLost(seed: number, rate: number, count: number): number[] {
    const random = seededRandom(seed);
    return Array.from({ length: count }, (_, i) => i).filter(() => random() < rate);
  }

  it('drops the fraction of one-way messages its seeded random source picks', async () => {
    const lost = expectedLost(42, 0.3, 40);
    assert.ok(lost.length > 0 && lost.length < 40);
    const a = await node('a', seededRandom(42));
    const b = await node('b');
    a.plan.set(addressKey(b.address), { dropRate: 0.3 });
    for (let i = 0; i < 40; i++) await a.transport.notify(b.address, i);
    a.plan.clear();
    await a.transport.notify(b.address, 'end');
    await eventually(() => b.notes.at(-1) === 'end', { message: 'the last message to arrive' });
    const delivered = Array.from({ length: 40 }, (_, i) => i).filter((i) => !lost.includes(i));
    assert.deepEqual(b.notes, [...delivered, 'end']);
  });

  it('loses the requests its seeded random source picks: they time out at their deadline, the rest are answered', async () => {
    const lost = expectedLost(9, 0.5, 12);
    assert.ok(lost.length > 0 && lost.length < 12);
    const a = await node('a', seededRandom(9));
    const b = await node('b');
    a.plan.set(addressKey(b.address), { dropRate: 0.5 });
    const outcomes = Array.from({ length: 12 }, (_, i) =>
      a.transport.request(b.address, i, { timeoutMs: 3000 }).then(
        () => 'ok',
        (err: unknown) => (err instanceof ShoalError ? err.code : 'other'),
      ),
    );
    await eventually(() => b.requests.length === 12 - lost.length, { message: 'the requests not lost to be answered' });
    a.clock.advance(3000);
    const expected = Array.from({ length: 12 }, (_, i) => (lost.includes(i) ? 'TIMEOUT' : 'ok'));
    assert.deepEqual(await Promise.all(outcomes), expected);
    assert.deepEqual(b.requests, Array.from({ length: 12 }, (_, i) => i).filter((i) => !lost.includes(i)));
  });
});

describe('FaultPlan', () => {
  it('refuses faults that make no sense', () => {
    const plan = new FaultPlan({ clock: new ManualClock() });
    assert.throws(() => plan.set('b', { dropRate: 2 }), RangeError);
    assert.throws(() => plan.set('b', { latencyMs: -1 }), RangeError);
    assert.throws(() => plan.set('b', { partition: 'sideways' as 'in' }), RangeError);
    assert.throws(() => plan.set('', { partition: 'in' }), RangeError);
    assert.equal(plan.active, false);
  });

  it('replacing a fault cancels the old one\'s expiry', () => {
    const clock = new ManualClock();
    const plan = new FaultPlan({ clock });
    plan.set('b', { partition: 'in', forMs: 100 });
    plan.set('b', { partition: 'out' });
    clock.advance(200);
    assert.deepEqual(plan.list(), [{ peer: 'b', partition: 'out' }]);
    assert.equal(clock.pendingTimers, 0);
  });
});
