/**
 * Benchmark `data`: Shoal's sharded document store on a 3-node local cluster (one replica per
 * shard) against Redis and PostgreSQL, from one client process per system on the same machine.
 *
 * 1. Single-key get and put of 1 KiB JSON documents, concurrency 64, keys uniform over a
 *    preloaded key space; the systems take turns case by case.
 * 2. A cross-shard aggregate (count, sum, avg per category over a range filter) over
 *    BENCH_AGG_DOCS small documents, against the same query on one PostgreSQL table; both
 *    answers are checked against each other.
 */
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { percentile } from '../lib/latency.ts';
import type { LoadResult, LoadSpec } from '../lib/load.ts';
import { machineInfo } from '../lib/machine.ts';
import { round, writeResults, type ResultRow } from '../lib/results.ts';
import { benchSettings, workerFlags, type BenchSettings } from '../lib/settings.ts';
import { median } from '../lib/stats.ts';
import { formatTable } from '../lib/table.ts';
import { BenchWorker } from '../lib/worker.ts';
import { startBenchCluster, type BenchCluster } from './cluster.ts';
import { AMOUNT_OVER, CATEGORIES, DOC_BYTES, compareGroups, type AggregateRuns, type KvCase } from './workload.ts';

const CONCURRENCY = 64;
const NODES = 3;
const kvCases: readonly KvCase[] = ['get', 'put'];

function count(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  return value;
}

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

interface Peer {
  system: string;
  label: string;
  worker: BenchWorker;
}

interface Measured {
  system: string;
  kind: KvCase;
  result: LoadResult;
}

interface AggregateMeasured {
  system: string;
  timesMs: number[];
}

const ratio = (x: number | undefined, y: number | undefined) => (x === undefined || y === undefined || !(y > 0) ? undefined : x / y);
const ratioText = (value: number | undefined) => (value === undefined || !Number.isFinite(value) ? '' : `${value.toFixed(2)}x`);
const rate = (n: number, ms: number) => `${Math.round(n / (ms / 1000)).toLocaleString('en-US')}/s`;

/** Starts a peer's client worker; undefined (and a clear line) when its server cannot be reached. */
async function startPeer(system: string, label: string, file: string, args: string[], settings: BenchSettings, describe: (details: Record<string, unknown>) => string): Promise<Peer | undefined> {
  try {
    const { worker, details } = await BenchWorker.start({ name: `${system} client`, file: here(file), args, nodeFlags: workerFlags(settings) });
    console.log(`${label}: ${describe(details)}`);
    return { system, label, worker };
  } catch (err) {
    const message = (err instanceof Error ? err.message : String(err)).split('\n')[0];
    console.log(`SKIPPED ${label}: not reachable or not usable (${message}); its rows and ratios are left out`);
    return undefined;
  }
}

export async function run(): Promise<void> {
  const settings = benchSettings({ seconds: 10, warmupSeconds: 2 });
  const keys = count('BENCH_KEYS', 100_000);
  const aggDocs = count('BENCH_AGG_DOCS', 1_000_000);
  const aggRuns = count('BENCH_AGG_RUNS', 5);
  const pgPool = count('BENCH_PG_POOL', 32);
  const machine = machineInfo();
  const spec: LoadSpec = { concurrency: CONCURRENCY, warmupMs: settings.warmupMs, durationMs: settings.durationMs };

  console.log(`data: single-key get and put of ${DOC_BYTES} B JSON documents, and a cross-shard aggregate, on Shoal, Redis and PostgreSQL`);
  console.log(`machine: ${machine.cpus} x ${machine.model}, node ${machine.node}, ${machine.os}`);
  console.log(
    `load: closed loop at c=${CONCURRENCY} from one client process per system, keys uniform over ${keys.toLocaleString('en-US')} preloaded documents (BENCH_KEYS), ` +
      `${settings.warmupMs / 1000} s warm-up + ${settings.durationMs / 1000} s measured per case (BENCH_SECONDS)`,
  );
  if (machine.cpus <= 4) {
    console.log(
      `note: ${machine.cpus} CPU(s) shared by everything: Shoal's ${NODES} nodes, its control and gateway processes, the client processes, redis-server and the PostgreSQL backends; no system gets a core to itself`,
    );
  }
  const [load1] = loadavg();
  if (load1 > 0.5) console.log(`warning: load average ${load1.toFixed(2)} before start: other work is running on these CPUs and will skew every system`);

  let cluster: BenchCluster | undefined;
  const peers: Peer[] = [];
  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`\n${signal}: stopping the cluster and the client processes`);
    cluster?.kill();
    // The client workers leave on their own when this process goes (and clean up their tables and keys).
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const measured: Measured[] = [];
  const aggregates: AggregateMeasured[] = [];
  const mismatches: string[] = [];
  let aggCheck = '';
  try {
    // The cluster's processes inherit NODE_OPTIONS at spawn: that is how they are profiled.
    const savedNodeOptions = process.env.NODE_OPTIONS;
    if (settings.cpuProfileDir) process.env.NODE_OPTIONS = `${savedNodeOptions ?? ''} ${workerFlags(settings).join(' ')}`.trim();
    console.log(`shoal: starting a ${NODES}-node cluster (one replica per shard; control, ${NODES} nodes, 1 gateway as separate processes)`);
    const t0 = performance.now();
    try {
      cluster = await startBenchCluster(NODES, (line) => console.log(line));
    } finally {
      if (settings.cpuProfileDir) {
        if (savedNodeOptions === undefined) delete process.env.NODE_OPTIONS;
        else process.env.NODE_OPTIONS = savedNodeOptions;
      }
    }
    console.log(`shoal: ${NODES} nodes up and slots balanced in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    if (settings.cpuProfileDir) console.log(`cpu profiles: ${settings.cpuProfileDir} (cluster processes and client workers)`);

    const shoal = await BenchWorker.start({
      name: 'shoal client',
      file: here('./shoal-client.ts'),
      args: [cluster.controlUrl],
      env: { SHOAL_SECRET: cluster.secret },
      nodeFlags: workerFlags(settings),
    });
    peers.push({ system: 'shoal', label: 'Shoal', worker: shoal.worker });
    console.log('shoal: client process joined through createDataClient (collection(docs).get / .put, collection(sales).query)');
    const redis = await startPeer('redis', 'Redis', './redis-client.ts', [`shoal-bench-${process.pid}:`], settings, (d) =>
      `redis-server ${String(d.version)} at 127.0.0.1:6379, ioredis, one connection with enableAutoPipelining: true, GET / SET of the same JSON string`,
    );
    if (redis) peers.push(redis);
    const pg = await startPeer('postgresql', 'PostgreSQL', './pg-client.ts', [String(pgPool)], settings, (d) =>
      `PostgreSQL ${String(d.version)} at 127.0.0.1:5432, pg Pool of ${String(d.poolSize)} connections, bench_docs(id text primary key, doc jsonb), ` +
      `SELECT doc … WHERE id = $1 / INSERT … ON CONFLICT (id) DO UPDATE, synchronous_commit = ${String(d.synchronousCommit)} (server default)`,
    );
    if (pg) peers.push(pg);
    console.log(
      'shoal: puts that reach a shard leader together share one SQLite transaction (group commit) with synchronous=FULL; each is acknowledged after that commit is durable',
    );

    console.log('');
    for (const peer of peers) {
      const started = performance.now();
      await peer.worker.task('preload', { count: keys, concurrency: CONCURRENCY });
      console.log(`preload ${peer.label}: ${keys.toLocaleString('en-US')} documents in ${((performance.now() - started) / 1000).toFixed(1)} s (${rate(keys, performance.now() - started)})`);
    }

    for (const kind of kvCases) {
      for (const peer of peers) {
        process.stdout.write(`  ${peer.system} ${kind} c=${CONCURRENCY} … `);
        const result = await peer.worker.task<LoadResult>('run', { kind, spec });
        process.stdout.write(`${Math.round(result.opsPerSec)} ops/s, p50 ${result.p50Ms.toFixed(2)} ms, p99 ${result.p99Ms.toFixed(2)} ms\n`);
        if (result.errors > 0) console.log(`    ${result.errors} operations failed (first: ${result.firstError})`);
        measured.push({ system: peer.system, kind, result });
      }
    }

    // The aggregate: Shoal and PostgreSQL only (Redis has no query over values).
    const aggPeers = peers.filter((p) => p.system === 'shoal' || p.system === 'postgresql');
    console.log('');
    console.log(
      `aggregate: ${aggDocs.toLocaleString('en-US')} documents { id, category (one of ${CATEGORIES}), amount (0 to 999.99), ts } (BENCH_AGG_DOCS), ` +
        `count / sum / avg of amount per category where amount > ${AMOUNT_OVER}; an index on amount on both sides`,
    );
    for (const peer of aggPeers) {
      const started = performance.now();
      if (peer.system === 'shoal') {
        const chunk = 50_000;
        for (let from = 0; from < aggDocs; from += chunk) {
          const to = Math.min(aggDocs, from + chunk);
          await peer.worker.task('loadSales', { from, to, concurrency: CONCURRENCY });
          process.stdout.write(`\r  load Shoal: ${to.toLocaleString('en-US')} / ${aggDocs.toLocaleString('en-US')} (${rate(to, performance.now() - started)})   `);
        }
        process.stdout.write('\n');
        console.log(`load Shoal: ${aggDocs.toLocaleString('en-US')} documents in ${((performance.now() - started) / 1000).toFixed(1)} s (${rate(aggDocs, performance.now() - started)}), one put per document, ${CONCURRENCY} in flight`);
        const stored = await peer.worker.task<number>('count');
        if (stored !== aggDocs) mismatches.push(`Shoal holds ${stored} sales documents, ${aggDocs} were written`);
      } else {
        await peer.worker.task('loadSales', { count: aggDocs });
        console.log(`load PostgreSQL: ${aggDocs.toLocaleString('en-US')} rows in ${((performance.now() - started) / 1000).toFixed(1)} s (${rate(aggDocs, performance.now() - started)}), INSERT … SELECT unnest(…) of 10 000 rows, then VACUUM ANALYZE`);
      }
    }
    // One unrecorded run each, then the recorded runs taking turns.
    const answers = new Map<string, AggregateRuns>();
    for (const peer of aggPeers) await peer.worker.task<AggregateRuns>('aggregate', { runs: 1 });
    for (const peer of aggPeers) aggregates.push({ system: peer.system, timesMs: [] });
    for (let r = 0; r < aggRuns; r++) {
      for (const peer of aggPeers) {
        const answer = await peer.worker.task<AggregateRuns>('aggregate', { runs: 1 });
        aggregates.find((a) => a.system === peer.system)!.timesMs.push(...answer.timesMs);
        answers.set(peer.system, answer);
      }
    }
    for (const a of aggregates) console.log(`  ${a.system} aggregate runs (ms): ${a.timesMs.map((t) => t.toFixed(1)).join(', ')}`);
    const [shoalAnswer, pgAnswer] = [answers.get('shoal'), answers.get('postgresql')];
    if (shoalAnswer && pgAnswer) {
      const problems = compareGroups(shoalAnswer.groups, pgAnswer.groups, ['shoal', 'postgresql']);
      mismatches.push(...problems);
      const docsSeen = shoalAnswer.groups.reduce((sum, g) => sum + g.n, 0);
      aggCheck = problems.length === 0 ? `answers agree: ${shoalAnswer.groups.length} groups, ${docsSeen.toLocaleString('en-US')} matching documents, same counts, sums and averages within 1e-9 relative` : '';
    }
  } finally {
    process.stdout.write('\nstopping: ');
    for (const peer of [...peers].reverse()) await peer.worker.stop().catch(() => undefined);
    process.stdout.write('clients stopped (tables and keys removed), ');
    await cluster?.stop().catch((err: unknown) => {
      console.log(`cluster stop failed (${err instanceof Error ? err.message : String(err)}); killing it`);
      cluster?.kill();
    });
    console.log('cluster stopped');
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }

  // The table.
  const find = (system: string, kind: KvCase) => measured.find((m) => m.system === system && m.kind === kind)?.result;
  const aggOf = (system: string) => aggregates.find((a) => a.system === system);
  const aggStats = (a: AggregateMeasured) => {
    const sorted = Float64Array.from(a.timesMs).sort();
    const med = median(a.timesMs);
    return { opsPerSec: med > 0 ? 1000 / med : 0, p50Ms: med, p99Ms: percentile(sorted, 0.99) };
  };
  const rows: string[][] = [];
  for (const m of measured) {
    const isShoal = m.system === 'shoal';
    rows.push([
      m.system,
      m.kind,
      Math.round(m.result.opsPerSec).toString(),
      m.result.p50Ms.toFixed(3),
      m.result.p99Ms.toFixed(3),
      String(m.result.errors),
      isShoal ? ratioText(ratio(m.result.opsPerSec, find('redis', m.kind)?.opsPerSec)) : '',
      isShoal ? ratioText(ratio(m.result.opsPerSec, find('postgresql', m.kind)?.opsPerSec)) : '',
    ]);
  }
  for (const a of aggregates) {
    const s = aggStats(a);
    const pgAgg = aggOf('postgresql');
    rows.push([
      a.system,
      `aggregate ${aggDocs >= 1_000_000 && aggDocs % 1_000_000 === 0 ? `${aggDocs / 1_000_000}M` : aggDocs.toLocaleString('en-US')}`,
      s.opsPerSec.toFixed(2),
      s.p50Ms.toFixed(1),
      s.p99Ms.toFixed(1),
      '0',
      '',
      a.system === 'shoal' && pgAgg ? ratioText(s.opsPerSec / aggStats(pgAgg).opsPerSec) : '',
    ]);
  }
  console.log('');
  console.log(formatTable(['system', 'case', 'ops/s', 'p50 ms', 'p99 ms', 'errors', 'ops/s vs redis', 'ops/s vs postgresql'], rows));
  console.log(`aggregate rows: ops/s = 1000 / median time of ${aggRuns} runs; p50 = the median, p99 = the slowest run (nearest rank)`);

  console.log('');
  const target = (what: string, value: number | undefined, min: number, peerName: string) => {
    if (value === undefined) {
      console.log(`target: ${what} >= ${min}x ${peerName} — NOT MEASURED (${peerName} skipped)`);
      return;
    }
    console.log(`target: ${what} >= ${min}x ${peerName} — ${value >= min ? 'MET' : 'NOT MET'} (${value.toFixed(2)}x)`);
  };
  const shoalErrors = measured.filter((m) => m.system === 'shoal').reduce((sum, m) => sum + m.result.errors, 0);
  target('Shoal get ops/s', ratio(find('shoal', 'get')?.opsPerSec, find('redis', 'get')?.opsPerSec), 0.5, 'Redis');
  target('Shoal get ops/s', ratio(find('shoal', 'get')?.opsPerSec, find('postgresql', 'get')?.opsPerSec), 1, 'PostgreSQL');
  target('Shoal put ops/s', ratio(find('shoal', 'put')?.opsPerSec, find('postgresql', 'put')?.opsPerSec), 1, 'PostgreSQL');
  if (shoalErrors > 0) console.log(`WARNING: ${shoalErrors} Shoal operations failed during the measured cases`);
  const shoalAgg = aggOf('shoal');
  const pgAgg = aggOf('postgresql');
  if (shoalAgg && pgAgg) {
    const [s, p] = [median(shoalAgg.timesMs), median(pgAgg.timesMs)];
    console.log(`aggregate over ${aggDocs.toLocaleString('en-US')} documents: Shoal ${s.toFixed(1)} ms vs PostgreSQL ${p.toFixed(1)} ms (median of ${aggRuns}); Shoal takes ${(s / p).toFixed(2)}x PostgreSQL's time`);
  }
  if (aggCheck) console.log(aggCheck);
  if (mismatches.length > 0) {
    console.log('');
    console.log(`!!! MISMATCH: Shoal and PostgreSQL disagree on the aggregate (${mismatches.length} difference(s)):`);
    for (const m of mismatches.slice(0, 20)) console.log(`!!!   ${m}`);
  }

  const resultRows: ResultRow[] = [
    ...measured.map((m) => ({ system: m.system, case: m.kind, ops_per_s: round(m.result.opsPerSec, 1), p50_ms: round(m.result.p50Ms, 4), p99_ms: round(m.result.p99Ms, 4) })),
    ...aggregates.map((a) => {
      const s = aggStats(a);
      return { system: a.system, case: 'aggregate', ops_per_s: round(s.opsPerSec, 4), p50_ms: round(s.p50Ms, 2), p99_ms: round(s.p99Ms, 2) };
    }),
  ];
  const file = writeResults({ suite: 'data', machine, rows: resultRows });
  console.log(`results: ${file}`);
  if (mismatches.length > 0) throw new Error('the aggregate answers of Shoal and PostgreSQL differ (see above)');
}
