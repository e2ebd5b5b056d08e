/**
 * Benchmark `data`: Shoal's sharded document store on a 3-node local cluster against Redis and
 * PostgreSQL, unreplicated and replicated, from one client process per system on the same machine.
 *
 * 1. Single-key get and put of 1 KiB JSON documents, concurrency 64, keys uniform over a
 *    preloaded key space; the systems take turns case by case. The peers: Redis and PostgreSQL
 *    as installed, Redis with one replica and `WAIT 1 0` after each write, PostgreSQL with one
 *    synchronous streaming standby (see peers.ts).
 * 2. A cross-shard aggregate (count, sum, avg per category over a range filter) over
 *    BENCH_AGG_DOCS small documents, against the same query on one PostgreSQL table; both
 *    answers are checked against each other.
 * 3. Not run by default: failover (see failover.ts), a shard leader killed while writers write.
 *
 * BENCH_DATA_CASES picks the cases (default get,put,aggregate; failover too when listed).
 * BENCH_SHOAL_REPLICAS picks the Shoal clusters (see shoal-variants.ts); they run one after
 * another, the first taking turns with the peers, each further one measured on its own after.
 */
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { LoadResult, LoadSpec } from '../lib/load.ts';
import { machineInfo, type MachineInfo } from '../lib/machine.ts';
import { benchSettings, workerFlags, type BenchSettings } from '../lib/settings.ts';
import { BenchWorker } from '../lib/worker.ts';
import { runAggregate, type AggregateOutcome } from './aggregate.ts';
import { startBenchCluster, type BenchCluster } from './cluster.ts';
import { measureFailover } from './failover.ts';
import { startPeers, stopPeers, type Peer } from './peers.ts';
import { report, type FailedCase, type FailoverMeasured, type Measured } from './report.ts';
import { describeReplicas, shoalVariants, type ShoalVariant } from './shoal-variants.ts';
import { DOC_BYTES, type KvCase } from './workload.ts';

const CONCURRENCY = 64;
const NODES = 3;
const knownCases = ['get', 'put', 'aggregate', 'failover'] as const;
type CaseName = (typeof knownCases)[number];

function count(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  return value;
}

function casesToRun(): Set<CaseName> {
  const raw = process.env.BENCH_DATA_CASES;
  if (raw === undefined || raw.trim() === '') return new Set(['get', 'put', 'aggregate']);
  const names = raw.split(',').map((s) => s.trim());
  for (const name of names) {
    if (!(knownCases as readonly string[]).includes(name)) throw new Error(`BENCH_DATA_CASES lists ${JSON.stringify(name)}; known cases: ${knownCases.join(', ')}`);
  }
  return new Set(names as CaseName[]);
}

const rate = (n: number, ms: number) => `${Math.round(n / (ms / 1000)).toLocaleString('en-US')}/s`;

/** Starts one Shoal cluster; its processes inherit NODE_OPTIONS at spawn, which is how they are profiled. */
async function startShoal(variant: ShoalVariant, settings: BenchSettings): Promise<BenchCluster> {
  const savedNodeOptions = process.env.NODE_OPTIONS;
  if (settings.cpuProfileDir) process.env.NODE_OPTIONS = `${savedNodeOptions ?? ''} ${workerFlags(settings).join(' ')}`.trim();
  console.log(`${variant.system}: starting a ${NODES}-node cluster (${describeReplicas(variant)}; control, ${NODES} nodes, 1 gateway as separate processes)`);
  const t0 = performance.now();
  try {
    const cluster = await startBenchCluster(NODES, (line) => console.log(line), variant.config);
    console.log(`${variant.system}: ${NODES} nodes up and slots balanced in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    return cluster;
  } finally {
    if (settings.cpuProfileDir) {
      if (savedNodeOptions === undefined) delete process.env.NODE_OPTIONS;
      else process.env.NODE_OPTIONS = savedNodeOptions;
    }
  }
}

async function startShoalClient(variant: ShoalVariant, cluster: BenchCluster, settings: BenchSettings): Promise<Peer> {
  const { worker } = await BenchWorker.start({
    name: `${variant.system} client`,
    file: fileURLToPath(new URL('./shoal-client.ts', import.meta.url)),
    args: [cluster.controlUrl],
    env: { SHOAL_SECRET: cluster.secret },
    nodeFlags: workerFlags(settings),
  });
  console.log(`${variant.system}: client process joined through createDataClient (collection(docs).get / .put, collection(sales).query)`);
  return { system: variant.system, label: variant.system === 'shoal' ? 'Shoal' : variant.system, worker };
}

async function preload(peers: readonly Peer[], keys: number): Promise<void> {
  console.log('');
  for (const peer of peers) {
    const started = performance.now();
    await peer.worker.task('preload', { count: keys, concurrency: CONCURRENCY });
    console.log(`preload ${peer.label}: ${keys.toLocaleString('en-US')} documents in ${((performance.now() - started) / 1000).toFixed(1)} s (${rate(keys, performance.now() - started)})`);
  }
}

/**
 * One case on one system. A peer that can say whether it is what its row claims (a synchronous
 * standby, a linked replica) is checked before and after: a row measured otherwise is left out.
 */
async function runCase(peer: Peer, kind: KvCase, spec: LoadSpec, measured: Measured[], failed: FailedCase[]): Promise<void> {
  process.stdout.write(`  ${peer.system} ${kind} c=${CONCURRENCY} … `);
  const check = async (when: string) => {
    if (!peer.verify) return true;
    try {
      await peer.verify();
      return true;
    } catch (err) {
      const reason = `${when}: ${err instanceof Error ? err.message : String(err)}`;
      process.stdout.write(`FAILED (${reason})\n`);
      failed.push({ system: peer.system, kind, reason });
      return false;
    }
  };
  if (!(await check('before the case'))) return;
  // Bounded: a replicated write waits for its replica for as long as it takes (WAIT 1 0, a
  // synchronous commit), so a replica lost mid-case would hold the case forever.
  let result: LoadResult;
  try {
    result = await peer.worker.task<LoadResult>('run', { kind, spec }, spec.warmupMs + spec.durationMs + 120_000);
  } catch (err) {
    // Only the replicated peers' rows fail alone; anything else stops the suite as before.
    if (!peer.verify) throw err;
    const replication = await peer.verify().then(
      (state) => state,
      (e: unknown) => (e instanceof Error ? e.message : String(e)),
    );
    const reason = `the case did not finish (${err instanceof Error ? err.message : String(err)}); replication now: ${replication}`;
    process.stdout.write(`FAILED (${reason})\n`);
    failed.push({ system: peer.system, kind, reason });
    return;
  }
  if (!(await check('after the case'))) return;
  process.stdout.write(`${Math.round(result.opsPerSec)} ops/s, p50 ${result.p50Ms.toFixed(2)} ms, p99 ${result.p99Ms.toFixed(2)} ms\n`);
  if (result.errors > 0) console.log(`    ${result.errors} operations failed (first: ${result.firstError})`);
  measured.push({ system: peer.system, kind, result });
}

interface Plan {
  settings: BenchSettings;
  spec: LoadSpec;
  cases: Set<CaseName>;
  kvCases: KvCase[];
  keys: number;
  aggDocs: number;
  aggRuns: number;
  pgPool: number;
  kills: number;
}

/** What the run has gathered so far, and the cluster running now (for an interrupt to kill). */
interface RunState {
  cluster: BenchCluster | undefined;
  peers: Peer[];
  measured: Measured[];
  failed: FailedCase[];
  failovers: FailoverMeasured[];
  aggregate: AggregateOutcome;
}

/** One Shoal cluster from start to stop: the first one also starts the peers and takes turns with them, and runs the aggregate. */
async function runVariant(first: boolean, variant: ShoalVariant, plan: Plan, state: RunState): Promise<void> {
  const cluster = await startShoal(variant, plan.settings);
  state.cluster = cluster;
  let shoal: Peer | undefined;
  try {
    if (first && plan.settings.cpuProfileDir) console.log(`cpu profiles: ${plan.settings.cpuProfileDir} (cluster processes and client workers)`);
    shoal = await startShoalClient(variant, cluster, plan.settings);
    if (first && (plan.kvCases.length > 0 || plan.cases.has('aggregate'))) state.peers.push(...(await startPeers(plan.settings, plan.pgPool)));
    console.log(
      `${variant.system}: puts that reach a shard leader together share one SQLite transaction (group commit) with synchronous=FULL; each is acknowledged after that commit is durable`,
    );
    const turns = first ? [shoal, ...state.peers] : [shoal];
    if (plan.kvCases.length > 0) {
      await preload(turns, plan.keys);
      for (const kind of plan.kvCases) for (const peer of turns) await runCase(peer, kind, plan.spec, state.measured, state.failed);
    }
    if (first && plan.cases.has('aggregate')) {
      state.aggregate = await runAggregate(shoal, state.peers.find((p) => p.system === 'postgresql'), plan.aggDocs, plan.aggRuns, CONCURRENCY);
    }
    if (plan.cases.has('failover')) {
      console.log('');
      console.log(`failover ${variant.system}: ${plan.kills} kills (BENCH_FAILOVER_KILLS) of the node leading a shard, writers on that shard; ${describeReplicas(variant)}`);
      const result = await measureFailover(cluster, NODES, plan.kills, (line) => console.log(line));
      state.failovers.push({ system: variant.system, kills: plan.kills, result });
    }
  } finally {
    process.stdout.write(`\nstopping ${variant.system}: `);
    await shoal?.worker.stop().catch(() => undefined);
    await cluster.stop().catch((err: unknown) => {
      console.log(`cluster stop failed (${err instanceof Error ? err.message : String(err)}); killing it`);
      cluster.kill();
    });
    state.cluster = undefined;
    console.log('client and cluster stopped');
  }
}

function printPreamble(plan: Plan, variants: readonly ShoalVariant[], machine: MachineInfo): void {
  console.log(
    `data: single-key get and put of ${DOC_BYTES} B JSON documents, and a cross-shard aggregate, on Shoal (${variants.map((v) => v.system).join(', ')}), ` +
      'Redis and PostgreSQL, alone and with a replica that acknowledges every write',
  );
  console.log(`machine: ${machine.cpus} x ${machine.model}, node ${machine.node}, ${machine.os}`);
  console.log(`cases: ${[...plan.cases].join(', ')} (BENCH_DATA_CASES)`);
  console.log(
    `load: closed loop at c=${CONCURRENCY} from one client process per system, keys uniform over ${plan.keys.toLocaleString('en-US')} preloaded documents (BENCH_KEYS), ` +
      `${plan.settings.warmupMs / 1000} s warm-up + ${plan.settings.durationMs / 1000} s measured per case (BENCH_SECONDS)`,
  );
  if (machine.cpus <= 4) {
    console.log(
      `note: ${machine.cpus} CPU(s) shared by everything: Shoal's ${NODES} nodes, its control and gateway processes, the client processes, the redis-servers and the PostgreSQL backends; no system gets a core to itself`,
    );
  }
  const [load1] = loadavg();
  if (load1 > 0.5) console.log(`warning: load average ${load1.toFixed(2)} before start: other work is running on these CPUs and will skew every system`);
}

export async function run(): Promise<void> {
  const settings = benchSettings({ seconds: 10, warmupSeconds: 2 });
  const cases = casesToRun();
  const plan: Plan = {
    settings,
    spec: { concurrency: CONCURRENCY, warmupMs: settings.warmupMs, durationMs: settings.durationMs },
    cases,
    kvCases: (['get', 'put'] as const).filter((c) => cases.has(c)),
    keys: count('BENCH_KEYS', 100_000),
    aggDocs: count('BENCH_AGG_DOCS', 1_000_000),
    aggRuns: count('BENCH_AGG_RUNS', 5),
    pgPool: count('BENCH_PG_POOL', 32),
    kills: count('BENCH_FAILOVER_KILLS', 10),
  };
  const variants = shoalVariants();
  const machine = machineInfo();
  printPreamble(plan, variants, machine);

  const state: RunState = { cluster: undefined, peers: [], measured: [], failed: [], failovers: [], aggregate: { aggregates: [], mismatches: [], aggCheck: '' } };
  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`\n${signal}: stopping the cluster, the client processes and the servers the bench started`);
    state.cluster?.kill();
    // The client workers leave on their own when this process goes (and clean up their tables and
    // keys); the replicated peers' servers are killed and their directories removed on exit.
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    for (const [i, variant] of variants.entries()) {
      if (i > 0) console.log('');
      await runVariant(i === 0, variant, plan, state);
    }
  } finally {
    if (state.peers.length > 0) {
      process.stdout.write('stopping the peers: ');
      await stopPeers(state.peers);
      console.log('clients stopped (tables and keys removed), the replicated pairs stopped and removed');
    }
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }

  report({
    machine,
    shoalSystems: variants.map((v) => v.system),
    measured: state.measured,
    failed: state.failed,
    ...state.aggregate,
    aggDocs: plan.aggDocs,
    aggRuns: plan.aggRuns,
    failovers: state.failovers,
  });
}
