/**
 * The Coordinator conformance suite: the rules in src/control/index.ts, checked against a
 * driver. Every driver's test file calls coordinatorConformance with a factory that starts a
 * fresh, empty backend.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ShoalError } from '../../src/core/errors.ts';
import type { Coordinator, WatchEvent } from '../../src/control/index.ts';
import { eventually } from '../support/eventually.ts';

export interface CoordinatorDriver {
  coordinator: Coordinator;
  /** Another client of the same backend (for concurrency tests); defaults to sharing `coordinator`. */
  connect?: () => Promise<Coordinator>;
  /** Stops and starts the backend, keeping its data; clients must reconnect by themselves. */
  restart?: () => Promise<void>;
  stop: () => Promise<void>;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function codeOf(err: unknown): string | undefined {
  return err instanceof ShoalError ? err.code : undefined;
}

function keyOf(event: WatchEvent): string | undefined {
  return event.type === 'put' ? event.entry.key : event.type === 'delete' ? event.key : undefined;
}

export function coordinatorConformance(name: string, makeDriver: () => Promise<CoordinatorDriver>): void {
  describe(`Coordinator conformance: ${name}`, () => {
    let driver: CoordinatorDriver;
    let c: Coordinator;
    let ns = 0;
    /** Each test works under its own prefix so tests never see each other's keys. */
    const space = () => `t${++ns}-${Date.now()}/`;

    before(async () => {
      driver = await makeDriver();
      c = driver.coordinator;
    });
    after(async () => {
      await driver.stop();
    });

    it('starts versions at 1, grows them by 1, and grows the revision on every change', async () => {
      const p = space();
      const first = await c.put(`${p}a`, { n: 1 });
      assert.equal(first.version, 1);
      const second = await c.put(`${p}a`, { n: 2 });
      assert.equal(second.version, 2);
      assert.equal(second.modRevision, first.modRevision + 1);
      assert.deepEqual(await c.get(`${p}a`), second);
      assert.equal(await c.get(`${p}missing`), undefined);
      assert.equal(await c.delete(`${p}a`), true);
      assert.equal(await c.delete(`${p}a`), false);
      const again = await c.put(`${p}a`, 'fresh');
      assert.equal(again.version, 1, 'a delete forgets the version');
      assert.ok(again.modRevision > second.modRevision);
    });

    it('compare-and-set: expectVersion 0 creates only if absent, a stale version gets CONFLICT', async () => {
      const p = space();
      await c.put(`${p}k`, 1, { expectVersion: 0 });
      await assert.rejects(c.put(`${p}k`, 2, { expectVersion: 0 }), (err) => codeOf(err) === 'CONFLICT');
      await c.put(`${p}k`, 2, { expectVersion: 1 });
      await assert.rejects(c.put(`${p}k`, 3, { expectVersion: 1 }), (err) => codeOf(err) === 'CONFLICT');
      assert.equal((await c.get(`${p}k`))?.value, 2);
    });

    it('concurrent CAS increments from 10 clients lose no update', async () => {
      const p = space();
      const key = `${p}counter`;
      await c.put(key, 0);
      const clients = await Promise.all(Array.from({ length: 10 }, () => (driver.connect ? driver.connect() : Promise.resolve(c))));
      let successes = 0;
      let conflicts = 0;
      try {
        await Promise.all(
          clients.map(async (client) => {
            for (let i = 0; i < 10; i++) {
              const current = await client.get(key);
              assert.ok(current);
              try {
                await client.put(key, (current.value as number) + 1, { expectVersion: current.version });
                successes++;
              } catch (err) {
                if (codeOf(err) !== 'CONFLICT') throw err;
                conflicts++;
              }
            }
          }),
        );
      } finally {
        await Promise.all(clients.filter((client) => client !== c).map((client) => client.close()));
      }
      const final = await c.get(key);
      assert.equal(successes + conflicts, 100);
      assert.ok(successes > 0);
      assert.equal(final?.value, successes, 'every successful CAS is counted exactly once');
      assert.equal(final?.version, successes + 1);
    });

    it('delete with expectVersion: CONFLICT on mismatch, deletes on match', async () => {
      const p = space();
      await c.put(`${p}d`, 'x');
      await c.put(`${p}d`, 'y');
      await assert.rejects(c.delete(`${p}d`, { expectVersion: 1 }), (err) => codeOf(err) === 'CONFLICT');
      assert.equal((await c.get(`${p}d`))?.value, 'y');
      assert.equal(await c.delete(`${p}d`, { expectVersion: 2 }), true);
      assert.equal(await c.get(`${p}d`), undefined);
    });

    it('lists by prefix in key order with the read revision', async () => {
      const p = space();
      await c.put(`${p}b`, 2);
      await c.put(`${p}a`, 1);
      await c.put(`${p}a/nested`, 3);
      const last = await c.put(`${p.slice(0, -1)}x`, 'outside');
      const { entries, revision } = await c.list(p);
      assert.deepEqual(
        entries.map((e) => e.key),
        [`${p}a`, `${p}a/nested`, `${p}b`],
      );
      assert.ok(revision >= last.modRevision);
      assert.deepEqual((await c.list(`${p}zzz`)).entries, []);
    });

    it('watch delivers changes under its prefix in revision order, exactly once', async () => {
      const p = space();
      const { revision: start } = await c.list(p);
      const events: WatchEvent[] = [];
      const watch = c.watch(p, (event) => events.push(event), { afterRevision: start });
      try {
        await c.put(`${p}a`, 1);
        await c.put(`${p}other-space-sibling`, 1);
        await c.put('outside-' + p, 1);
        await c.put(`${p}a`, 2);
        await c.delete(`${p}a`);
        await Promise.all(Array.from({ length: 20 }, (_, i) => c.put(`${p}many/${i}`, i)));
        await eventually(() => events.length >= 24, { message: 'all 24 events' });
        // A later change is delivered after any repeat of the earlier ones would have been.
        const marker = await c.put(`${p}zz-marker`, 1);
        await eventually(() => events.some((e) => e.revision === marker.modRevision), { message: 'the marker event' });
        assert.equal(events.pop()?.revision, marker.modRevision);
        assert.equal(events.length, 24, 'no event twice');
        const revisions = events.map((e) => e.revision);
        assert.deepEqual([...revisions].sort((a, b) => a - b), revisions);
        assert.equal(new Set(revisions).size, revisions.length);
        assert.ok(events.every((e) => keyOf(e)?.startsWith(p)));
        assert.deepEqual(
          events.slice(0, 4).map((e) => [e.type, keyOf(e)]),
          [
            ['put', `${p}a`],
            ['put', `${p}other-space-sibling`],
            ['put', `${p}a`],
            ['delete', `${p}a`],
          ],
        );
      } finally {
        watch.close();
      }
    });

    it('watch replays from afterRevision', async () => {
      const p = space();
      const first = await c.put(`${p}1`, 1);
      await c.put(`${p}2`, 2);
      const events: WatchEvent[] = [];
      const watch = c.watch(p, (event) => events.push(event), { afterRevision: first.modRevision - 1 });
      try {
        await eventually(() => events.length >= 2, { message: 'replayed events' });
        assert.deepEqual(
          events.map(keyOf),
          [`${p}1`, `${p}2`],
        );
      } finally {
        watch.close();
      }
    });

    it('a lease expiry deletes its keys and fires delete events', async () => {
      const p = space();
      const { revision } = await c.list(p);
      const events: WatchEvent[] = [];
      const watch = c.watch(p, (event) => events.push(event), { afterRevision: revision });
      try {
        const lease = await c.grantLease(300);
        await c.put(`${p}x`, 1, { lease: lease.id });
        await c.put(`${p}y`, 2, { lease: lease.id });
        await c.put(`${p}z`, 3);
        assert.equal((await c.get(`${p}x`))?.lease, lease.id);
        await eventually(() => events.filter((e) => e.type === 'delete').length >= 2, { message: 'deletes after expiry' });
        assert.deepEqual(
          events.filter((e) => e.type === 'delete').map(keyOf).sort(),
          [`${p}x`, `${p}y`],
        );
        assert.equal(await c.get(`${p}x`), undefined);
        assert.equal((await c.get(`${p}z`))?.value, 3, 'keys without the lease stay');
        await assert.rejects(c.keepAlive(lease.id), (err) => codeOf(err) === 'NOT_FOUND');
        await assert.rejects(c.put(`${p}w`, 1, { lease: lease.id }), (err) => codeOf(err) === 'NOT_FOUND');
      } finally {
        watch.close();
      }
    });

    it('keepAlive keeps a lease and its keys', async () => {
      const p = space();
      const lease = await c.grantLease(1000);
      await c.put(`${p}kept`, 1, { lease: lease.id });
      // Renewed for well over twice the ttl: 25 renewals, each at least 100 ms apart.
      for (let i = 0; i < 25; i++) {
        const renewed = await c.keepAlive(lease.id);
        assert.equal(renewed.id, lease.id);
        assert.equal(renewed.fencingToken, lease.fencingToken);
        await sleep(100);
      }
      assert.equal((await c.get(`${p}kept`))?.value, 1);
      await eventually(async () => (await c.get(`${p}kept`)) === undefined, { message: 'key gone once renewals stop' });
    });

    it('revoke ends a lease at once and deletes its keys', async () => {
      const p = space();
      const lease = await c.grantLease(60_000);
      await c.put(`${p}r`, 1, { lease: lease.id });
      await c.revokeLease(lease.id);
      assert.equal(await c.get(`${p}r`), undefined);
      await assert.rejects(c.keepAlive(lease.id), (err) => codeOf(err) === 'NOT_FOUND');
    });

    it('fencing tokens strictly increase', async () => {
      const tokens: number[] = [];
      for (let i = 0; i < 5; i++) tokens.push((await c.grantLease(60_000)).fencingToken);
      const concurrent = await Promise.all(Array.from({ length: 10 }, () => c.grantLease(60_000)));
      const all = [...tokens, ...concurrent.map((l) => l.fencingToken)];
      assert.equal(new Set(all).size, all.length, 'no token granted twice');
      for (let i = 1; i < tokens.length; i++) assert.ok(tokens[i] > tokens[i - 1]);
      const later = await c.grantLease(60_000);
      assert.ok(later.fencingToken > Math.max(...all));
      await Promise.all([...concurrent, later].map((l) => c.revokeLease(l.id)));
    });

    it('across a restart: data, fencing order and watches survive', async (t) => {
      if (!driver.restart) {
        t.skip('driver cannot restart');
        return;
      }
      const p = space();
      const before = await c.grantLease(60_000);
      const stored = await c.put(`${p}durable`, { ok: true });
      const events: WatchEvent[] = [];
      const watch = c.watch(p, (event) => events.push(event), { afterRevision: stored.modRevision - 1 });
      try {
        await eventually(() => events.length === 1, { message: 'event before restart' });
        await driver.restart();
        // A read that throws counts as not yet.
        await eventually(async () => {
          await c.get(`${p}durable`);
          return true;
        }, { message: 'client reconnects' });
        assert.deepEqual(await c.get(`${p}durable`), stored);
        const afterRestart = await c.grantLease(60_000);
        assert.ok(afterRestart.fencingToken > before.fencingToken);
        await c.put(`${p}after`, 2);
        await eventually(() => events.some((e) => keyOf(e) === `${p}after`), { message: 'watch resumed' });
        assert.deepEqual(
          events.map((e) => [e.type, keyOf(e)]),
          [
            ['put', `${p}durable`],
            ['put', `${p}after`],
          ],
          'each change once, no reset needed',
        );
        assert.equal(c.state(), 'connected');
        await c.revokeLease(afterRestart.id);
        await c.revokeLease(before.id);
      } finally {
        watch.close();
      }
    });
  });
}
