/**
 * Worker: a process outside the cluster that reads and writes through Shoal's client API
 * (createDataClient → collection(def).get/put/query) and measures. Args: CONTROL_URL; the
 * cluster secret comes in SHOAL_SECRET.
 */
import { connect } from '../../src/cluster/index.ts';
import { createDataClient } from '../../src/data/index.ts';
import { runClosedLoop, type LoadSpec } from '../lib/load.ts';
import { failStartup, reportReady, serveParent } from '../lib/worker-protocol.ts';
import { docs, sales } from './cluster-config.ts';
import { docId, forEachConcurrently, makeDoc, makeSale, randomIndex, shoalAggregate, type AggregateRuns, type GroupRow, type KvCase } from './workload.ts';

try {
  const [controlUrl] = process.argv.slice(2);
  // The aggregate over a million documents may take longer than the default 10 s per call.
  const connection = await connect({ controlUrl, secret: process.env.SHOAL_SECRET ?? '', clientId: 'bench-data-client', callTimeoutMs: 120_000 });
  const client = await createDataClient(connection, { collections: [docs, sales], timeoutMs: 120_000 });
  const kv = client.collection(docs);
  const facts = client.collection(sales);
  let keys = 0;
  let rev = 0;

  const ops: Record<KvCase, () => Promise<unknown>> = {
    async get() {
      const found = await kv.get(docId(randomIndex(keys)));
      if (!found) throw new Error('a preloaded document is missing');
      return found;
    },
    put: () => kv.put(makeDoc(docId(randomIndex(keys)), ++rev)),
  };

  serveParent({
    tasks: {
      async preload(params) {
        const { count, concurrency } = params as { count: number; concurrency: number };
        await forEachConcurrently(0, count, concurrency, async (i) => {
          await kv.put(makeDoc(docId(i), 0));
        });
        keys = count;
        // One read before any case, so connection setup is not part of one.
        if (!(await kv.get(docId(0)))) throw new Error('preloaded document doc-0000000 is missing');
        return null;
      },
      run(params) {
        const { kind, spec } = params as { kind: KvCase; spec: LoadSpec };
        return runClosedLoop(ops[kind], spec);
      },
      async loadSales(params) {
        const { from, to, concurrency } = params as { from: number; to: number; concurrency: number };
        await forEachConcurrently(from, to, concurrency, async (i) => {
          await facts.put(makeSale(i));
        });
        return null;
      },
      async count() {
        const [row] = await facts.query({ aggregate: { n: { op: 'count' } } });
        return Number(row?.n ?? 0);
      },
      async aggregate(params) {
        const { runs } = params as { runs: number };
        const timesMs: number[] = [];
        let rows: Array<Record<string, unknown>> = [];
        for (let r = 0; r < runs; r++) {
          const t0 = performance.now();
          rows = await facts.query(shoalAggregate);
          timesMs.push(performance.now() - t0);
        }
        const groups: GroupRow[] = rows.map((row) => ({ category: String(row.category), n: Number(row.n), total: Number(row.total), avg: Number(row.avg) }));
        return { timesMs, groups } satisfies AggregateRuns;
      },
    },
    shutdown: async () => {
      client.close();
      await connection.close();
    },
  });
  reportReady();
} catch (err) {
  failStartup(err);
}
