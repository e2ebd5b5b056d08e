/**
 * Worker: the same load on PostgreSQL at 127.0.0.1 (user postgres) through a pg Pool. Key-value:
 * one table bench_docs(id text primary key, doc jsonb), SELECT by id and INSERT … ON CONFLICT DO
 * UPDATE, the server's synchronous_commit as configured. Aggregate: one table bench_sales with
 * typed columns and an index on amount. Both tables are dropped on shutdown.
 * Args: POOL_SIZE [PORT (5432)] [DATABASE (test)].
 */
import pg from 'pg';
import { runClosedLoop, type LoadSpec } from '../lib/load.ts';
import { failStartup, reportReady, serveParent } from '../lib/worker-protocol.ts';
import { AMOUNT_OVER, docId, makeDoc, makeSale, pgAggregateSql, randomIndex, type AggregateRuns, type GroupRow, type KvCase } from './workload.ts';

try {
  const [poolArg, portArg, database = 'test'] = process.argv.slice(2);
  const poolSize = Number(poolArg ?? 32);
  const port = Number(portArg ?? 5432);
  const pool = new pg.Pool({ host: '127.0.0.1', port, user: 'postgres', database, max: poolSize, connectionTimeoutMillis: 5_000 });
  pool.on('error', () => undefined);
  const info = await pool.query<{ version: string; sync: string; standbys: string }>(
    `SELECT current_setting('server_version') AS version, current_setting('synchronous_commit') AS sync, current_setting('synchronous_standby_names') AS standbys`,
  );
  const { version, sync, standbys } = info.rows[0];
  let keys = 0;
  let rev = 0;

  const getSql = { name: 'bench-get', text: 'SELECT doc FROM bench_docs WHERE id = $1' };
  const putText = 'INSERT INTO bench_docs (id, doc) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET doc = EXCLUDED.doc';

  const ops: Record<KvCase, () => Promise<unknown>> = {
    async get() {
      const result = await pool.query({ ...getSql, values: [docId(randomIndex(keys))] });
      if (result.rows.length === 0) throw new Error('a preloaded row is missing');
      return result.rows[0];
    },
    put() {
      const i = randomIndex(keys);
      return pool.query({ name: 'bench-put', text: putText, values: [docId(i), JSON.stringify(makeDoc(docId(i), ++rev))] });
    },
  };

  const dropTables = () => pool.query('DROP TABLE IF EXISTS bench_docs; DROP TABLE IF EXISTS bench_sales');

  serveParent({
    tasks: {
      async preload(params) {
        const { count } = params as { count: number };
        await dropTables();
        await pool.query('CREATE TABLE bench_docs (id text PRIMARY KEY, doc jsonb NOT NULL)');
        for (let from = 0; from < count; from += 5000) {
          const ids: string[] = [];
          const bodies: string[] = [];
          for (let i = from; i < Math.min(count, from + 5000); i++) {
            ids.push(docId(i));
            bodies.push(JSON.stringify(makeDoc(docId(i), 0)));
          }
          await pool.query('INSERT INTO bench_docs (id, doc) SELECT * FROM unnest($1::text[], $2::jsonb[])', [ids, bodies]);
        }
        await pool.query('VACUUM ANALYZE bench_docs');
        keys = count;
        return null;
      },
      run(params) {
        const { kind, spec } = params as { kind: KvCase; spec: LoadSpec };
        return runClosedLoop(ops[kind], spec);
      },
      async loadSales(params) {
        const { count } = params as { count: number };
        await pool.query('DROP TABLE IF EXISTS bench_sales');
        await pool.query('CREATE TABLE bench_sales (id text PRIMARY KEY, category text NOT NULL, amount double precision NOT NULL, ts bigint NOT NULL)');
        await pool.query('CREATE INDEX bench_sales_amount ON bench_sales (amount)');
        for (let from = 0; from < count; from += 10_000) {
          const cols: [string[], string[], number[], number[]] = [[], [], [], []];
          for (let i = from; i < Math.min(count, from + 10_000); i++) {
            const s = makeSale(i);
            cols[0].push(s.id);
            cols[1].push(s.category);
            cols[2].push(s.amount);
            cols[3].push(s.ts);
          }
          await pool.query('INSERT INTO bench_sales SELECT * FROM unnest($1::text[], $2::text[], $3::float8[], $4::int8[])', cols);
        }
        // What one does after a bulk load: statistics for the planner, the visibility map for scans.
        await pool.query('VACUUM ANALYZE bench_sales');
        return null;
      },
      async aggregate(params) {
        const { runs } = params as { runs: number };
        const timesMs: number[] = [];
        let rows: Array<{ category: string; n: string; total: number; avg: number }> = [];
        for (let r = 0; r < runs; r++) {
          const t0 = performance.now();
          rows = (await pool.query<{ category: string; n: string; total: number; avg: number }>(pgAggregateSql, [AMOUNT_OVER])).rows;
          timesMs.push(performance.now() - t0);
        }
        const groups: GroupRow[] = rows.map((row) => ({ category: row.category, n: Number(row.n), total: Number(row.total), avg: Number(row.avg) }));
        return { timesMs, groups } satisfies AggregateRuns;
      },
    },
    async shutdown() {
      await dropTables().catch(() => undefined);
      await pool.end();
    },
  });
  reportReady({ version, synchronousCommit: sync, synchronousStandbyNames: standbys, poolSize, port, database });
} catch (err) {
  failStartup(err);
}
