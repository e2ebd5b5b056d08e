/**
 * The Transport conformance suite: the rules in src/transport/index.ts, checked against a
 * driver. Every driver's test file calls transportConformance with a factory that knows how
 * to make transports of one cluster; what only some drivers can stage (a peer in another
 * process, a peer with the wrong credentials, bytes that are not a message) are optional
 * capabilities, and a test that needs a missing one skips and says so.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, before, after, describe, it } from 'node:test';
import { ShoalError } from '../../src/core/errors.ts';
import type { PeerAddress, PeerInfo, Transport } from '../../src/transport/index.ts';
import { eventually } from '../support/eventually.ts';
import { expectShoalError } from '../support/shoal-errors.ts';

export interface TransportNodeOptions {
  /** Largest message the transport accepts and sends, in bytes of its encoding. */
  maxFrameBytes?: number;
}

/** A transport listening in another process, whose handler takes requests and never answers. */
export interface SpawnedPeer {
  address: PeerAddress;
  /** Requests its handler has received so far. */
  received(): number;
  /** Kills the process at once (SIGKILL): no goodbye reaches the peers. */
  kill(): Promise<void>;
}

export interface TransportDriver {
  /** A transport of a node of the cluster (shared credentials); the suite closes it. */
  create(nodeId: string, options?: TransportNodeOptions): Transport;
  /** Where the suite's transports listen: host and port 0, so each picks a free port. */
  listenAddress: PeerAddress;
  /** What PeerInfo.remoteAddress looks like for a peer on listenAddress's host. */
  remoteAddressPattern?: RegExp;
  /** A transport whose credentials the cluster does not accept. */
  createIntruder?(nodeId: string): Transport;
  /** An address where nothing listens now. */
  unreachableAddress?(): Promise<PeerAddress>;
  /** Starts a peer in its own process (see SpawnedPeer). */
  spawnPeer?(nodeId: string): Promise<SpawnedPeer>;
  /** Opens a raw connection to a listening transport, sends bytes that are no message, resolves once it is closed. */
  sendGarbage?(address: PeerAddress): Promise<void>;
  /** Releases whatever the factory started (default: nothing to release). */
  stop?(): Promise<void>;
}

function detailsOf(err: ShoalError): { sent?: unknown } {
  return (err.details ?? {}) as { sent?: unknown };
}

export function transportConformance(name: string, makeDriver: () => Promise<TransportDriver>): void {
  describe(`Transport conformance: ${name}`, () => {
    let driver: TransportDriver;
    const opened: Transport[] = [];
    const peers: SpawnedPeer[] = [];

    const transport = (nodeId: string, options?: TransportNodeOptions): Transport => {
      const t = driver.create(nodeId, options);
      opened.push(t);
      return t;
    };

    /** A listening transport that echoes requests as { echo: payload }. */
    const server = async (nodeId = 'server', options?: TransportNodeOptions): Promise<{ transport: Transport; address: PeerAddress }> => {
      const t = transport(nodeId, options);
      t.onRequest(async (payload) => ({ echo: payload }));
      const address = await t.listen(driver.listenAddress);
      return { transport: t, address };
    };

    before(async () => {
      driver = await makeDriver();
    });
    afterEach(async () => {
      await Promise.all(peers.splice(0).map((peer) => peer.kill()));
      await Promise.all(opened.splice(0).map((t) => t.close()));
    });
    after(async () => {
      await driver.stop?.();
    });

    describe('requests', () => {
      it('answers a request, telling the handler the authenticated node id', async () => {
        const { transport: s, address } = await server();
        let from: PeerInfo | undefined;
        s.onRequest(async (payload, peer) => {
          from = peer;
          return { echo: payload };
        });
        const client = transport('client-a');
        const answer = await client.request(address, { n: 1, list: ['x'], flag: true }, { timeoutMs: 5000 });
        assert.deepEqual(answer, { echo: { n: 1, list: ['x'], flag: true } });
        assert.equal(from?.nodeId, 'client-a');
        assert.equal(typeof from?.remoteAddress, 'string');
        if (driver.remoteAddressPattern) assert.match(from?.remoteAddress ?? '', driver.remoteAddressPattern);
        assert.equal(client.stats().connections, 1);
        assert.equal(client.stats().inflight, 0);
      });

      it('answers 1000 concurrent requests on one connection, each once and with its own answer', async () => {
        const { transport: s, address } = await server();
        const seen = new Map<number, number>();
        s.onRequest(async (payload) => {
          const n = payload as number;
          seen.set(n, (seen.get(n) ?? 0) + 1);
          // Answer out of order so matching by id is what makes the results right.
          if (n % 3 === 0) await new Promise((resolve) => setImmediate(resolve));
          return n * 2;
        });
        const client = transport('client');
        const inputs = Array.from({ length: 1000 }, (_, i) => i);
        const answers = await Promise.all(inputs.map((n) => client.request(address, n, { timeoutMs: 10_000 })));
        assert.deepEqual(answers, inputs.map((n) => n * 2));
        assert.equal(seen.size, 1000);
        assert.ok([...seen.values()].every((count) => count === 1), 'no request delivered twice');
        assert.equal(client.stats().connections, 1);
        assert.equal(s.stats().connections, 1);
      });

      it('keeps answering with more than 10 000 requests in flight unanswered', { timeout: 60_000 }, async () => {
        const { transport: s, address } = await server();
        const held: Array<() => void> = [];
        let holding = true;
        s.onRequest((payload) => {
          if (!holding) return Promise.resolve(payload);
          return new Promise((resolve) => held.push(() => resolve(payload)));
        });
        const client = transport('client');
        const total = 12_000;
        const answers = Promise.all(Array.from({ length: total }, (_, i) => client.request(address, i, { timeoutMs: 60_000 })));
        await eventually(() => held.length > 10_000, { message: 'more than 10 000 requests held by the handler', timeoutMs: 50_000 });
        holding = false;
        for (const release of held.splice(0)) release();
        const values = await answers;
        assert.equal(values.length, total);
        assert.ok(values.every((value, i) => value === i));
      });

      it('rebuilds a remote error as a ShoalError with its code and details', async () => {
        const { transport: s, address } = await server();
        s.onRequest(async () => {
          throw new ShoalError('NOT_FOUND', 'no such link', { id: 'abc' });
        });
        const client = transport('client');
        const err = await expectShoalError(client.request(address, null, { timeoutMs: 5000 }), 'NOT_FOUND');
        assert.equal(err.message, 'no such link');
        assert.deepEqual(err.details, { id: 'abc' });

        s.onRequest(() => {
          throw new Error('plain failure');
        });
        const internal = await expectShoalError(client.request(address, null, { timeoutMs: 5000 }), 'INTERNAL');
        assert.equal(internal.message, 'plain failure');
      });

      it('answers UNAVAILABLE (not sent) when the peer has no request handler', async () => {
        const s = transport('server');
        const address = await s.listen(driver.listenAddress);
        const client = transport('client');
        const err = await expectShoalError(client.request(address, 1, { timeoutMs: 5000 }), 'UNAVAILABLE');
        assert.equal(detailsOf(err).sent, false);
      });

      it('fails with TIMEOUT when no answer comes in time, and drops the late answer', async () => {
        const { transport: s, address } = await server();
        const held: Array<(value: unknown) => void> = [];
        s.onRequest((payload) => {
          if (payload === 'slow') return new Promise((resolve) => held.push(resolve));
          return Promise.resolve(payload);
        });
        const client = transport('client');
        await expectShoalError(client.request(address, 'slow', { timeoutMs: 50 }), 'TIMEOUT');
        assert.equal(client.stats().inflight, 0);
        await eventually(() => held.length === 1, { message: 'the slow request to reach the handler' });
        held[0]('too late');
        // The connection survives the late answer and still matches answers to requests.
        assert.equal(await client.request(address, 'fast', { timeoutMs: 5000 }), 'fast');
        assert.equal(client.stats().connections, 1);
      });
    });

    describe('peers lost and found', () => {
      it('fails in-flight requests with UNAVAILABLE (sent) and fires onPeerDown when the peer process is killed', async (t) => {
        if (!driver.spawnPeer) {
          t.skip('the driver cannot start a peer in another process');
          return;
        }
        const peer = await driver.spawnPeer('doomed');
        peers.push(peer);
        const client = transport('client');
        const down: PeerAddress[] = [];
        client.onPeerDown((lost) => down.push(lost));
        const inflight = client.request(peer.address, 'hang', { timeoutMs: 30_000 });
        await eventually(() => peer.received() === 1, { message: 'the spawned peer to receive the request' });
        const failed = expectShoalError(inflight, 'UNAVAILABLE');
        await peer.kill();

        const err = await failed;
        assert.equal(detailsOf(err).sent, true);
        await eventually(() => down.length === 1, { message: 'onPeerDown for the killed peer' });
        assert.deepEqual(down[0], peer.address);
        assert.equal(client.stats().connections, 0);
      });

      it('reconnects when the peer comes back on the same address', async () => {
        const first = await server('server-1');
        const client = transport('client');
        const down: PeerAddress[] = [];
        client.onPeerDown((lost) => down.push(lost));
        assert.deepEqual(await client.request(first.address, 1, { timeoutMs: 5000 }), { echo: 1 });

        await first.transport.close();
        await eventually(() => down.length === 1, { message: 'onPeerDown once the first server closed' });

        // Sent while nothing listens: the client keeps trying until the new server accepts.
        const pending = client.request(first.address, 2, { timeoutMs: 20_000 });
        // Time for at least one attempt to be refused, so the request is not simply early.
        await sleep(100);
        const second = transport('server-2');
        second.onRequest(async (payload) => ({ again: payload }));
        await second.listen(first.address);
        assert.deepEqual(await pending, { again: 2 });
        assert.deepEqual(await client.request(first.address, 3, { timeoutMs: 5000 }), { again: 3 });
      });

      it('fails with UNAVAILABLE (not sent) when no connection can be made before the timeout', async (t) => {
        if (!driver.unreachableAddress) {
          t.skip('the driver cannot name an address where nothing listens');
          return;
        }
        const address = await driver.unreachableAddress();
        const client = transport('client');
        const down: PeerAddress[] = [];
        client.onPeerDown((lost) => down.push(lost));
        const err = await expectShoalError(client.request(address, 1, { timeoutMs: 100 }), 'UNAVAILABLE');
        assert.equal(detailsOf(err).sent, false);
        assert.equal(client.stats().inflight, 0);
        assert.deepEqual(down, [], 'a refused connect is not a lost peer');
      });

      it('close() fails requests still in flight with UNAVAILABLE (sent), and later requests too', async () => {
        const { transport: s, address } = await server();
        let arrived = false;
        s.onRequest(() => {
          arrived = true;
          return new Promise(() => {});
        });
        const client = transport('client');
        const inflight = client.request(address, 'hang', { timeoutMs: 30_000 });
        await eventually(() => arrived, { message: 'the request to reach the handler' });
        const failed = expectShoalError(inflight, 'UNAVAILABLE');
        await client.close();
        const err = await failed;
        assert.equal(detailsOf(err).sent, true);
        await expectShoalError(client.request(address, 'after close', { timeoutMs: 1000 }), 'UNAVAILABLE');
        assert.equal(client.stats().connections, 0);
      });
    });

    describe('hostile and oversized input', () => {
      it('rejects a peer with the wrong credentials before any handler runs, while others keep working', async (t) => {
        if (!driver.createIntruder) {
          t.skip('the driver cannot make a peer with the wrong credentials');
          return;
        }
        const { transport: s, address } = await server();
        const handled: unknown[] = [];
        s.onRequest(async (payload) => {
          handled.push(payload);
          return { echo: payload };
        });
        s.onNotify((payload) => handled.push(payload));
        const good = transport('good');
        assert.deepEqual(await good.request(address, 'before', { timeoutMs: 5000 }), { echo: 'before' });

        const intruder = driver.createIntruder('intruder');
        opened.push(intruder);
        await expectShoalError(intruder.request(address, 'let me in', { timeoutMs: 10_000 }), 'UNAUTHORIZED');
        // Not retried within the request; the next request tries (and fails) again.
        await expectShoalError(intruder.request(address, 'again', { timeoutMs: 10_000 }), 'UNAUTHORIZED');
        assert.equal(intruder.stats().connections, 0);

        await eventually(() => s.stats().rejected >= 2, { message: 'the server to count both rejected handshakes' });
        assert.deepEqual(await good.request(address, 'after', { timeoutMs: 5000 }), { echo: 'after' });
        assert.deepEqual(handled, ['before', 'after'], 'nothing from the intruder reached a handler');
        assert.equal(s.stats().connections, 1);
      });

      it('closes a connection that sends bytes that are no message, and keeps serving others', async (t) => {
        if (!driver.sendGarbage) {
          t.skip('the driver cannot send raw bytes');
          return;
        }
        const { transport: s, address } = await server();
        const good = transport('good');
        assert.deepEqual(await good.request(address, 1, { timeoutMs: 5000 }), { echo: 1 });
        await driver.sendGarbage(address);
        assert.equal(s.stats().rejected, 1);
        assert.deepEqual(await good.request(address, 2, { timeoutMs: 5000 }), { echo: 2 });
        assert.equal(s.stats().connections, 1);
      });

      it('refuses to send a payload over its frame bound with PAYLOAD_TOO_LARGE, and the link keeps working', async () => {
        const { address } = await server('server', { maxFrameBytes: 1024 });
        const client = transport('client', { maxFrameBytes: 1024 });
        await expectShoalError(client.request(address, 'z'.repeat(2000), { timeoutMs: 5000 }), 'PAYLOAD_TOO_LARGE');
        await expectShoalError(client.notify(address, 'z'.repeat(2000)), 'PAYLOAD_TOO_LARGE');
        assert.deepEqual(await client.request(address, 'small', { timeoutMs: 5000 }), { echo: 'small' });
      });

      it('closes a connection that sends a message over the receiver\'s bound, before any handler runs', async () => {
        const { transport: s, address } = await server('server', { maxFrameBytes: 1024 });
        const handled: unknown[] = [];
        s.onRequest(async (payload) => {
          handled.push(payload);
          return { echo: payload };
        });
        const big = transport('big-sender');
        const err = await expectShoalError(big.request(address, 'z'.repeat(2000), { timeoutMs: 5000 }), 'UNAVAILABLE');
        assert.equal(detailsOf(err).sent, true);
        assert.deepEqual(handled, []);
        await eventually(() => s.stats().rejected === 1, { message: 'the server to count the oversized frame' });
        const small = transport('small-sender');
        assert.deepEqual(await small.request(address, 'small', { timeoutMs: 5000 }), { echo: 'small' });
      });
    });

    describe('one-way messages', () => {
      it('delivers them in order, ahead of a later request, waiting out congestion', async () => {
        const { transport: s, address } = await server();
        const received: Array<{ seq: number; from: string }> = [];
        s.onNotify((payload, from) => received.push({ seq: (payload as { seq: number }).seq, from: from.nodeId }));
        const client = transport('sender');
        const padding = 'p'.repeat(64 * 1024);
        const sends: Promise<void>[] = [];
        for (let seq = 0; seq < 300; seq++) sends.push(client.notify(address, { seq, padding }));
        const answer = client.request(address, 'after', { timeoutMs: 20_000 });
        await Promise.all(sends);
        assert.deepEqual(await answer, { echo: 'after' });
        assert.equal(received.length, 300);
        assert.deepEqual(
          received.map((r) => r.seq),
          Array.from({ length: 300 }, (_, i) => i),
        );
        assert.ok(received.every((r) => r.from === 'sender'));
      });
    });
  });
}
