/**
 * What the data suite prints and writes once everything is measured: the table (one row per
 * system and case, Shoal rows with their ratio to each peer), the targets, the failover times,
 * and bench/results/data.json with the same numbers.
 */
import { percentile } from '../lib/latency.ts';
import type { LoadResult } from '../lib/load.ts';
import type { MachineInfo } from '../lib/machine.ts';
import { round, writeResults, type FailoverRow, type ResultRow } from '../lib/results.ts';
import { median } from '../lib/stats.ts';
import { formatTable } from '../lib/table.ts';
import type { FailoverResult } from './failover.ts';
import type { KvCase } from './workload.ts';

export interface Measured {
  system: string;
  kind: KvCase;
  result: LoadResult;
}

export interface AggregateMeasured {
  system: string;
  timesMs: number[];
}

/** A case left out because the system was not what its row claims (see Peer.verify). */
export interface FailedCase {
  system: string;
  kind: KvCase;
  reason: string;
}

export interface FailoverMeasured {
  system: string;
  kills: number;
  result: FailoverResult;
}

export interface Outcome {
  machine: MachineInfo;
  /** Systems of the Shoal clusters, in the order they ran; the first one's rows carry the targets. */
  shoalSystems: readonly string[];
  measured: readonly Measured[];
  failed: readonly FailedCase[];
  aggregates: readonly AggregateMeasured[];
  aggDocs: number;
  aggRuns: number;
  aggCheck: string;
  mismatches: readonly string[];
  failovers: readonly FailoverMeasured[];
}

const ratio = (x: number | undefined, y: number | undefined) => (x === undefined || y === undefined || !(y > 0) ? undefined : x / y);
const ratioText = (value: number | undefined) => (value === undefined || !Number.isFinite(value) ? '' : `${value.toFixed(2)}x`);

function aggStats(a: AggregateMeasured): { opsPerSec: number; p50Ms: number; p99Ms: number } {
  const sorted = Float64Array.from(a.timesMs).sort();
  const med = median(a.timesMs);
  return { opsPerSec: med > 0 ? 1000 / med : 0, p50Ms: med, p99Ms: percentile(sorted, 0.99) };
}

/** Prints the table, targets and failover times and writes bench/results/data.json; throws when the aggregate answers differ. */
export function report(outcome: Outcome): void {
  const { measured, aggregates, aggDocs, aggRuns, shoalSystems } = outcome;
  const isShoal = (system: string) => shoalSystems.includes(system);
  const find = (system: string, kind: KvCase) => measured.find((m) => m.system === system && m.kind === kind)?.result;
  const aggOf = (system: string) => aggregates.find((a) => a.system === system);
  // One ratio column per peer that has rows, in the order the peers ran.
  const peerSystems = [...new Set(measured.map((m) => m.system).filter((s) => !isShoal(s)))];

  const rows: string[][] = [];
  for (const m of measured) {
    rows.push([
      m.system,
      m.kind,
      Math.round(m.result.opsPerSec).toString(),
      m.result.p50Ms.toFixed(3),
      m.result.p99Ms.toFixed(3),
      String(m.result.errors),
      ...peerSystems.map((peer) => (isShoal(m.system) ? ratioText(ratio(m.result.opsPerSec, find(peer, m.kind)?.opsPerSec)) : '')),
    ]);
  }
  const aggLabel = `aggregate ${aggDocs >= 1_000_000 && aggDocs % 1_000_000 === 0 ? `${aggDocs / 1_000_000}M` : aggDocs.toLocaleString('en-US')}`;
  for (const a of aggregates) {
    const s = aggStats(a);
    rows.push([
      a.system,
      aggLabel,
      s.opsPerSec.toFixed(2),
      s.p50Ms.toFixed(1),
      s.p99Ms.toFixed(1),
      '0',
      ...peerSystems.map((peer) => {
        const other = aggOf(peer);
        return isShoal(a.system) && other ? ratioText(s.opsPerSec / aggStats(other).opsPerSec) : '';
      }),
    ]);
  }
  console.log('');
  console.log(formatTable(['system', 'case', 'ops/s', 'p50 ms', 'p99 ms', 'errors', ...peerSystems.map((p) => `ops/s vs ${p}`)], rows));
  if (aggregates.length > 0) console.log(`aggregate rows: ops/s = 1000 / median time of ${aggRuns} runs; p50 = the median, p99 = the slowest run (nearest rank)`);
  if (shoalSystems.includes('shoal-rf3')) console.log('shoal-rf3 rows: each shard on 3 nodes, a write acknowledged once 2 have it durable; shoal-rf1: one copy per shard');
  for (const f of outcome.failed) console.log(`FAILED ${f.system} ${f.kind}: ${f.reason}; the row is left out`);

  printTargets(outcome, find);
  printFailovers(outcome.failovers);
  const aggShoal = aggregates.find((a) => isShoal(a.system));
  const pgAgg = aggOf('postgresql');
  if (aggShoal && pgAgg) {
    const [s, p] = [median(aggShoal.timesMs), median(pgAgg.timesMs)];
    console.log(`aggregate over ${aggDocs.toLocaleString('en-US')} documents: Shoal ${s.toFixed(1)} ms vs PostgreSQL ${p.toFixed(1)} ms (median of ${aggRuns}); Shoal takes ${(s / p).toFixed(2)}x PostgreSQL's time`);
  }
  if (outcome.aggCheck) console.log(outcome.aggCheck);
  if (outcome.mismatches.length > 0) {
    console.log('');
    console.log(`!!! MISMATCH: Shoal and PostgreSQL disagree on the aggregate (${outcome.mismatches.length} difference(s)):`);
    for (const m of outcome.mismatches.slice(0, 20)) console.log(`!!!   ${m}`);
  }

  const resultRows: ResultRow[] = [
    ...measured.map((m) => ({ system: m.system, case: m.kind, ops_per_s: round(m.result.opsPerSec, 1), p50_ms: round(m.result.p50Ms, 4), p99_ms: round(m.result.p99Ms, 4) })),
    ...aggregates.map((a) => {
      const s = aggStats(a);
      return { system: a.system, case: 'aggregate', ops_per_s: round(s.opsPerSec, 4), p50_ms: round(s.p50Ms, 2), p99_ms: round(s.p99Ms, 2) };
    }),
  ];
  const failover: FailoverRow[] = outcome.failovers.map((f) => ({
    system: f.system,
    kills: f.kills,
    recovered: f.result.samplesMs.length,
    median_ms: round(f.result.medianMs, 1),
    max_ms: round(f.result.maxMs, 1),
    samples_ms: f.result.samplesMs.map((ms) => round(ms, 1)),
  }));
  const file = writeResults({ suite: 'data', machine: outcome.machine, rows: resultRows, ...(failover.length > 0 ? { failover } : {}) });
  console.log(`results: ${file}`);
  if (outcome.mismatches.length > 0) throw new Error('the aggregate answers of Shoal and PostgreSQL differ (see above)');
}

/** The suite's targets, for the first Shoal cluster against the unreplicated peers (as before replication). */
function printTargets(outcome: Outcome, find: (system: string, kind: KvCase) => LoadResult | undefined): void {
  const shoal = outcome.shoalSystems[0];
  if (!outcome.measured.some((m) => m.system === shoal)) return;
  console.log('');
  const target = (what: string, value: number | undefined, min: number, peerName: string) => {
    if (value === undefined) {
      console.log(`target: ${what} >= ${min}x ${peerName} — NOT MEASURED (${peerName} skipped)`);
      return;
    }
    console.log(`target: ${what} >= ${min}x ${peerName} — ${value >= min ? 'MET' : 'NOT MET'} (${value.toFixed(2)}x)`);
  };
  const has = (kind: KvCase) => outcome.measured.some((m) => m.system === shoal && m.kind === kind);
  if (has('get')) target('Shoal get ops/s', ratio(find(shoal, 'get')?.opsPerSec, find('redis', 'get')?.opsPerSec), 0.5, 'Redis');
  if (has('get')) target('Shoal get ops/s', ratio(find(shoal, 'get')?.opsPerSec, find('postgresql', 'get')?.opsPerSec), 1, 'PostgreSQL');
  if (has('put')) target('Shoal put ops/s', ratio(find(shoal, 'put')?.opsPerSec, find('postgresql', 'put')?.opsPerSec), 1, 'PostgreSQL');
  for (const system of outcome.shoalSystems) {
    const errors = outcome.measured.filter((m) => m.system === system).reduce((sum, m) => sum + m.result.errors, 0);
    if (errors > 0) console.log(`WARNING: ${errors} ${system} operations failed during the measured cases`);
  }
}

function printFailovers(failovers: readonly FailoverMeasured[]): void {
  for (const f of failovers) {
    const { samplesMs, medianMs, maxMs, failures } = f.result;
    console.log('');
    console.log(
      `failover ${f.system}: kill -9 of a shard's leader to the first acknowledged write on that shard, ${samplesMs.length} of ${f.kills} kills recovered` +
        (samplesMs.length > 0 ? `: median ${medianMs.toFixed(0)} ms, max ${maxMs.toFixed(0)} ms` : ''),
    );
    for (const failure of failures) console.log(`  FAILED ${failure}`);
  }
}
