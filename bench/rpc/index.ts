/**
 * The rpc suite: remote request/response between two processes over TCP, Shoal against
 * Moleculer 0.15 on its TCP transporter, same payload, same closed-loop load, same run.
 */
import { loadavg } from 'node:os';
import { machineInfo } from '../lib/machine.ts';
import { round, writeResults, type ResultRow } from '../lib/results.ts';
import { benchSettings, type BenchSettings } from '../lib/settings.ts';
import { median } from '../lib/stats.ts';
import { formatTable } from '../lib/table.ts';
import { startMoleculerPair, startShoalPair, type RpcCaseResult, type RpcPair } from './systems.ts';

const concurrencies = [1, 64] as const;
const systems: ReadonlyArray<{ name: string; start: (settings: BenchSettings) => Promise<RpcPair> }> = [
  { name: 'shoal', start: startShoalPair },
  { name: 'moleculer', start: startMoleculerPair },
];
/** Shoal's target at the highest concurrency: this many times Moleculer's calls/s, p99 no worse. */
const targetThroughputRatio = 2;

/** Every round's result of one system in one case, and their medians. */
interface Measured {
  system: string;
  caseName: string;
  rounds: RpcCaseResult[];
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  cpuUsPerCall: number;
  errors: number;
}

const caseName = (concurrency: number) => `c=${concurrency}`;

function summarize(system: string, name: string, rounds: RpcCaseResult[]): Measured {
  return {
    system,
    caseName: name,
    rounds,
    opsPerSec: median(rounds.map((r) => r.opsPerSec)),
    p50Ms: median(rounds.map((r) => r.p50Ms)),
    p99Ms: median(rounds.map((r) => r.p99Ms)),
    cpuUsPerCall: median(rounds.map((r) => r.clientCpuUsPerCall + r.serverCpuUsPerCall)),
    errors: rounds.reduce((sum, r) => sum + r.errors, 0),
  };
}

/**
 * Both systems stay up for the whole run and take turns case by case, round after round, so a
 * drift in background load over the run hits both rather than whichever ran last. An idle pair
 * costs next to nothing (membership renewals, heartbeats).
 */
async function measureAll(settings: BenchSettings): Promise<Measured[]> {
  const pairs: Array<{ name: string; pair: RpcPair }> = [];
  const results = new Map<string, RpcCaseResult[]>();
  const keyOf = (system: string, name: string) => `${system} ${name}`;
  try {
    for (const system of systems) {
      console.log(`${system.name}: starting server and client processes`);
      pairs.push({ name: system.name, pair: await system.start(settings) });
    }
    for (let round = 1; round <= settings.rounds; round++) {
      if (settings.rounds > 1) console.log(`round ${round} of ${settings.rounds}`);
      for (const concurrency of concurrencies) {
        for (const { name, pair } of pairs) {
          process.stdout.write(`  ${name} ${caseName(concurrency)} … `);
          const result = await pair.run({ concurrency, warmupMs: settings.warmupMs, durationMs: settings.durationMs });
          process.stdout.write(
            `${Math.round(result.opsPerSec)} calls/s, p99 ${result.p99Ms.toFixed(3)} ms, CPU per call: client ${result.clientCpuUsPerCall.toFixed(1)} us, server ${result.serverCpuUsPerCall.toFixed(1)} us\n`,
          );
          if (result.errors > 0) console.log(`    ${result.errors} calls failed (first: ${result.firstError})`);
          const key = keyOf(name, caseName(concurrency));
          results.set(key, [...(results.get(key) ?? []), result]);
        }
      }
    }
  } finally {
    for (const { pair } of pairs.reverse()) await pair.stop();
  }
  const measured: Measured[] = [];
  for (const concurrency of concurrencies) {
    for (const system of systems) {
      const rounds = results.get(keyOf(system.name, caseName(concurrency)));
      if (rounds) measured.push(summarize(system.name, caseName(concurrency), rounds));
    }
  }
  return measured;
}

function ratioText(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? '' : `${value.toFixed(2)}x`;
}

export async function run(): Promise<void> {
  const settings = benchSettings({ rounds: 3 });
  const machine = machineInfo();
  console.log(`rpc: request/response between two processes over TCP on 127.0.0.1, params { a: 1, b: 'hello' }`);
  console.log(`machine: ${machine.cpus} x ${machine.model}, node ${machine.node}, ${machine.os}`);
  console.log(
    `load: closed loop at c=${concurrencies.join(' and c=')}, ${settings.warmupMs / 1000} s warm-up + ${settings.durationMs / 1000} s measured per case (BENCH_SECONDS), ${settings.rounds} round(s) (BENCH_ROUNDS)`,
  );
  if (machine.cpus <= 2) {
    console.log(
      `note: ${machine.cpus} CPU(s): the load-generating client, the server and this parent (Shoal's coordinator) share them; no system gets a core to itself`,
    );
  }
  const [load1] = loadavg();
  if (load1 > 0.5) {
    console.log(`warning: load average ${load1.toFixed(2)} before start: other work is running on these CPUs and will skew both systems`);
  }
  if (settings.cpuProfileDir) console.log(`cpu profiles: ${settings.cpuProfileDir}`);

  const measured = await measureAll(settings);

  const find = (system: string, name: string) => measured.find((m) => m.system === system && m.caseName === name);
  const rows = measured.map((m) => {
    const peer = m.system === 'shoal' ? find('moleculer', m.caseName) : undefined;
    return [
      m.system,
      m.caseName,
      Math.round(m.opsPerSec).toString(),
      m.p50Ms.toFixed(3),
      m.p99Ms.toFixed(3),
      m.cpuUsPerCall.toFixed(1),
      peer ? ratioText(m.opsPerSec / peer.opsPerSec) : '',
      peer ? ratioText(m.p99Ms / peer.p99Ms) : '',
    ];
  });
  console.log('');
  console.log(
    formatTable(['system', 'case', 'calls/s', 'p50 ms', 'p99 ms', 'cpu us/call', 'calls/s vs moleculer', 'p99 vs moleculer'], rows),
  );
  const each = settings.rounds > 1 ? `median of ${settings.rounds} rounds` : 'one round';
  console.log(`calls/s, p50, p99, cpu: ${each} of ${settings.durationMs / 1000} s per system and case`);
  console.log('cpu us/call: CPU time of the client and server processes together in the measured window, per call');

  const top = caseName(concurrencies[concurrencies.length - 1]);
  const shoal = find('shoal', top);
  const moleculer = find('moleculer', top);
  if (shoal && moleculer) {
    const throughputRatio = shoal.opsPerSec / moleculer.opsPerSec;
    const perRound = shoal.rounds.map((r, i) => (r.opsPerSec / moleculer.rounds[i].opsPerSec).toFixed(2) + 'x');
    const p99Ratio = shoal.p99Ms / moleculer.p99Ms;
    const met = throughputRatio >= targetThroughputRatio && p99Ratio <= 1 && shoal.errors === 0;
    if (perRound.length > 1) console.log(`calls/s ratio at ${top}, round by round: ${perRound.join(', ')}`);
    console.log('');
    console.log(
      `target: Shoal >= ${targetThroughputRatio}x Moleculer's calls/s at ${top} with p99 no worse — ${met ? 'MET' : 'NOT MET'}` +
        ` (calls/s ${throughputRatio.toFixed(2)}x, p99 ${p99Ratio.toFixed(2)}x)`,
    );
  }

  const resultRows: ResultRow[] = measured.map((m) => ({
    system: m.system,
    case: m.caseName,
    ops_per_s: round(m.opsPerSec, 1),
    p50_ms: round(m.p50Ms, 4),
    p99_ms: round(m.p99Ms, 4),
  }));
  const file = writeResults({ suite: 'rpc', machine, rows: resultRows });
  console.log(`results: ${file}`);
}
