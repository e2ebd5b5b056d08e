import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { z } from 'zod';
import { ShoalError } from '../../src/core/index.ts';
import { DataRouter, ShardMapCache, defineCollection, type DataCaller } from '../../src/data/index.ts';
import { DataCluster } from '../support/data-cluster.ts';

type Account = { user: string; name: string; region: string; balance: number; [field: string]: unknown };
type Event = { user: string; eventId: string; kind: string; [field: string]: unknown };

const accounts = defineCollection<Account>({
  name: 'accounts',
  key: 'user',
  indexes: [{ name: 'by_region', fields: ['region'] }],
  schema: z.object({ user: z.string(), name: z.string(), region: z.string(), balance: z.number() }).passthrough() as z.ZodType<Account>,
  maxDocumentBytes: 4096,
});
const events = defineCollection<Event>({ name: 'events', key: 'user', id: 'eventId' });
/** Declared by a caller but not by the nodes: the nodes must refuse it. */
const unknown = defineCollection<{ k: string }>({ name: 'nowhere', key: 'k' });

const regions = ['eu', 'us', 'ap'];

async function rejects(work: Promise<unknown>, code: string, pattern?: RegExp): Promise<ShoalError> {
  try {
    await work;
  } catch (err) {
    assert.ok(err instanceof ShoalError, `expected a ShoalError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (pattern) assert.match(err.message, pattern);
    return err;
  }
  assert.fail(`expected ${code}`);
}

describe('data router', () => {
  const cluster = new DataCluster({ collections: [accounts, events] });
  let router: DataRouter;
  let queryCalls: string[] = [];

  before(async () => {
    await cluster.start(['n1', 'n2', 'n3']);
    await cluster.waitBalanced();
    const client = await cluster.router();
    // Counts the shards each query reaches.
    const counting: DataCaller = {
      call: (service, version, action, params, options) => {
        if (action === 'shardQuery') queryCalls.push(options?.node ?? '?');
        return client.broker.call(service, version, action, params, options);
      },
    };
    router = new DataRouter({ caller: counting, maps: client.maps, collections: [accounts, events, unknown] });
  });
  after(() => cluster.stop());

  it('puts, gets, inserts, updates with CAS, increments, deletes', async () => {
    const a = router.collection(accounts);
    const stored = await a.put({ user: 'alice', name: 'Alice', region: 'eu', balance: 10 });
    assert.equal(stored.version, 1);
    assert.deepEqual((await a.get('alice'))?.doc, { user: 'alice', name: 'Alice', region: 'eu', balance: 10 });
    assert.equal(await a.get('nobody'), undefined);

    await rejects(a.insert({ user: 'alice', name: 'Again', region: 'us', balance: 0 }), 'CONFLICT');
    const updated = await a.update('alice', { name: 'Alice A.' }, { expectVersion: 1 });
    assert.equal(updated.version, 2);
    await rejects(a.update('alice', { name: 'stale' }, { expectVersion: 1 }), 'CONFLICT');
    await rejects(a.put({ user: 'alice', name: 'stale', region: 'eu', balance: 0 }, { expectVersion: 1 }), 'CONFLICT');
    assert.equal((await a.get('alice'))?.doc.name, 'Alice A.');

    const incremented = await a.increment('alice', { balance: 5 });
    assert.equal(incremented.doc.balance, 15);
    assert.equal(await a.delete('alice', { expectVersion: incremented.version }), true);
    assert.equal(await a.get('alice'), undefined);
    assert.equal(await a.delete('alice'), false);
  });

  it('reads many across shards in the order asked, and scans one partition', async () => {
    const a = router.collection(accounts);
    const users = Array.from({ length: 30 }, (_, i) => `many-${i}`);
    for (const user of users) await a.put({ user, name: user, region: 'eu', balance: 1 });
    const asked = [...users, 'missing-user'].reverse();
    const found = await a.getMany(asked);
    assert.deepEqual(
      found.map((d) => d?.doc.user),
      asked.map((u) => (u === 'missing-user' ? undefined : u)),
    );

    const e = router.collection(events);
    for (let i = 0; i < 5; i++) await e.put({ user: 'bob', eventId: `click-${i}`, kind: 'click' });
    await e.put({ user: 'bob', eventId: 'view-1', kind: 'view' });
    const clicks = await e.scan('bob', { idPrefix: 'click-' });
    assert.deepEqual(clicks.map((d) => d.id).sort(), ['click-0', 'click-1', 'click-2', 'click-3', 'click-4']);
    assert.equal((await e.get({ key: 'bob', id: 'view-1' }))?.doc.kind, 'view');
    await rejects(e.get('bob'), 'BAD_REQUEST', /key and id/);
  });

  it('sends a query that pins the partition key to one shard only', async () => {
    const e = router.collection(events);
    queryCalls = [];
    const rows = await e.query({ where: { user: 'bob', kind: 'click' } });
    assert.equal(queryCalls.length, 1);
    assert.equal(rows.length, 5);
    queryCalls = [];
    await e.query({ where: { and: [{ user: { eq: 'bob' } }, { kind: 'view' }] } });
    assert.equal(queryCalls.length, 1);
    queryCalls = [];
    await e.query({ where: { kind: 'view' } });
    assert.equal(queryCalls.length, 3, 'a query without the key goes to every shard');
  });

  it('merges cross-shard queries: sort and limit, group-by aggregates', async () => {
    const a = router.collection(accounts);
    const docs: Account[] = Array.from({ length: 90 }, (_, i) => ({ user: `q-${i}`, name: `Q${i}`, region: regions[i % 3], balance: (i * 37) % 101 }));
    for (const doc of docs) await a.put(doc);
    const expectTop = [...docs].sort((x, y) => y.balance - x.balance || (x.user < y.user ? -1 : 1)).slice(0, 7);
    const top = await a.query({ where: { user: { prefix: 'q-' } }, orderBy: [{ field: 'balance', direction: 'desc' }, { field: 'user' }], limit: 7 });
    assert.deepEqual(
      top.map((r) => r.user),
      expectTop.map((d) => d.user),
    );

    const groups = await a.query({
      where: { user: { prefix: 'q-' } },
      groupBy: ['region'],
      aggregate: { n: { op: 'count' }, total: { op: 'sum', field: 'balance' }, low: { op: 'min', field: 'balance' }, high: { op: 'max', field: 'balance' }, mean: { op: 'avg', field: 'balance' } },
      orderBy: [{ field: 'region' }],
    });
    const expected = regions
      .slice()
      .sort()
      .map((region) => {
        const mine = docs.filter((d) => d.region === region).map((d) => d.balance);
        const total = mine.reduce((s, b) => s + b, 0);
        return { region, n: mine.length, total, low: Math.min(...mine), high: Math.max(...mine), mean: total / mine.length };
      });
    assert.equal(groups.length, 3);
    for (const [i, want] of expected.entries()) {
      const got = groups[i];
      assert.equal(got.region, want.region);
      assert.equal(got.n, want.n);
      assert.equal(got.total, want.total);
      assert.equal(got.low, want.low);
      assert.equal(got.high, want.high);
      assert.ok(Math.abs(Number(got.mean) - want.mean) < 1e-9);
    }
  });

  it('refuses bad input with clear errors and writes nothing', async () => {
    const a = router.collection(accounts);
    const count = async () => (await a.query({ aggregate: { n: { op: 'count' } } }))[0].n;
    const before = await count();

    await rejects(router.collection(unknown).put({ k: 'x' }), 'NOT_FOUND', /unknown collection "nowhere"/);
    await rejects(router.query('nowhere-at-all', {}), 'NOT_FOUND', /unknown collection/);
    await rejects(a.put({ name: 'no key', region: 'eu', balance: 1 } as unknown as Account), 'BAD_REQUEST', /partition key field "user" is missing/);
    await rejects(a.put({ user: { nested: true }, name: 'bad key', region: 'eu', balance: 1 } as unknown as Account), 'BAD_REQUEST', /partition key/);
    await rejects(a.put({ user: 'big', name: 'x'.repeat(5000), region: 'eu', balance: 1 }), 'PAYLOAD_TOO_LARGE');
    await rejects(a.put({ user: 'typed', name: 'x', region: 'eu', balance: 'lots' } as unknown as Account), 'VALIDATION');
    await rejects(a.query({ where: { balance: { between: [1, 2] } } } as never), 'BAD_REQUEST');
    await rejects(a.query({ limit: -1 }), 'BAD_REQUEST');
    await rejects(a.query({ aggregate: { s: { op: 'sum' } } }), 'BAD_REQUEST');
    await rejects(a.increment('inc', { balance: Number.NaN }), 'VALIDATION');
    await rejects(a.update('nobody-here', { name: 'x' }), 'NOT_FOUND');

    assert.equal(await count(), before);
    assert.equal(await a.get('big'), undefined);
    assert.equal(await a.get('typed'), undefined);
  });

  it('corrects a stale map by redirect', async () => {
    const a = router.collection(accounts);
    const users = Array.from({ length: 40 }, (_, i) => `stale-${i}`);
    for (const user of users) await a.put({ user, name: user, region: 'us', balance: 3 });
    // A cache that stops following the map: after the next rebalance it is stale.
    const stale = new ShardMapCache(cluster.harness.coordinator());
    await stale.start();
    stale.close();
    const staleVersion = stale.version;
    const client = await cluster.router('stale-client');
    const staleRouter = new DataRouter({ caller: client.broker, maps: stale, collections: [accounts] });

    await cluster.addNode('n4');
    await cluster.waitBalanced();
    await cluster.harness.waitForEndpoints(client.broker, '$data', 1, 4);

    const docs = await Promise.all(users.map((u) => staleRouter.collection(accounts).get(u)));
    assert.ok(docs.every((d, i) => d?.doc.user === users[i]));
    assert.ok(stale.version > staleVersion, 'the router refreshed its map after a redirect');
    await staleRouter.collection(accounts).put({ user: 'stale-new', name: 'n', region: 'us', balance: 1 });
    assert.equal((await a.get('stale-new'))?.doc.name, 'n');
    const total = await a.query({ where: { user: { prefix: 'stale-' } }, aggregate: { n: { op: 'count' } } });
    assert.equal(total[0].n, 41);
  });
});
