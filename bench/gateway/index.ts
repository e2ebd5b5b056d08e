/**
 * The gateway suite: HTTP load balancing with round robin over two nginx upstreams, `shoal lb`
 * against HAProxy 2.6, nginx 1.22 and http-proxy 1.18 on Node, each on one worker, loaded by wrk
 * with 64 keep-alive connections, plus the direct path to one upstream as the ceiling.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { findExecutable, runCommand } from '../lib/external.ts';
import { machineInfo } from '../lib/machine.ts';
import { round, writeResults, type ResultRow } from '../lib/results.ts';
import { benchSettings, type BenchSettings } from '../lib/settings.ts';
import { median } from '../lib/stats.ts';
import { formatTable } from '../lib/table.ts';
import { checkSpread, installHint, startUpstreams, systems, type Context, type Placement, type RunningSystem, type SystemSpec, type Tools } from './systems.ts';
import { runWrk, type WrkReport } from './wrk.ts';

const connections = 64;
const caseName = `round-robin c=${connections}`;

/** Shoal's targets: req/s against HAProxy and the Node proxy, p99 against HAProxy. */
const targets = { vsHaproxy: 0.5, vsNodeProxy: 1.3, p99VsHaproxy: 2 } as const;

interface Outcome {
  spec: SystemSpec;
  /** Set when the system was skipped or failed; it then has no (complete) measurement. */
  problem?: string;
  spread?: string;
  reports: WrkReport[];
}


interface Summary {
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

function summarize(reports: readonly WrkReport[]): Summary {
  return {
    opsPerSec: median(reports.map((r) => r.opsPerSec)),
    p50Ms: median(reports.map((r) => r.p50Ms)),
    p99Ms: median(reports.map((r) => r.p99Ms)),
    errors: reports.reduce((sum, r) => sum + r.non2xx + r.socketErrors, 0),
  };
}

/** Where each role runs: wrk on a core of its own, every balancer on the same other core. */
function placement(cpus: number, taskset: string | undefined): { placement: Placement; note: string } {
  if (!taskset || cpus < 2) {
    const why = taskset ? `${cpus} CPU` : 'taskset (util-linux) is not installed';
    return { placement: { balancer: undefined, upstreams: [undefined, undefined], wrk: undefined }, note: `not pinned (${why}): wrk, the balancer and the upstreams share every CPU` };
  }
  if (cpus >= 4) {
    return {
      placement: { balancer: '0', upstreams: ['2', '3'], wrk: '1' },
      note: `${cpus} cores: wrk on core 1, the balancer on core 0, the upstream nginx workers on cores 2 and 3`,
    };
  }
  return {
    placement: { balancer: '0', upstreams: ['0', '0'], wrk: '1' },
    note: `the machine has ${cpus} cores: wrk on core 1, the balancer on core 0, and the two upstream nginx workers share core 0 with it, the same for every system`,
  };
}

async function versionLine(tools: Tools): Promise<string> {
  const parts: string[] = [];
  const probe = async (name: string, bin: string | undefined, args: string[], pattern: RegExp) => {
    if (!bin) {
      parts.push(`${name} missing`);
      return;
    }
    const { stdout, stderr } = await runCommand(`${name} version`, bin, args).catch(() => ({ stdout: '', stderr: '' }));
    parts.push(pattern.exec(`${stdout}\n${stderr}`)?.[1] ?? `${name} (version unknown)`);
  };
  await probe('haproxy', tools.haproxy, ['-v'], /(HAProxy version \S+)/);
  await probe('nginx', tools.nginx, ['-v'], /nginx version: (nginx\/\S+)/);
  await probe('wrk', tools.wrk, ['-v'], /^(wrk \S+)/m);
  return parts.join(', ');
}

/** One measurement: a warm-up run that is thrown away, then the measured run. */
async function measure(ctx: Context, port: number, settings: BenchSettings): Promise<WrkReport> {
  const common = { wrk: ctx.tools.wrk!, taskset: ctx.tools.taskset, cpus: ctx.placement.wrk, connections, url: `http://127.0.0.1:${port}/` };
  if (settings.warmupMs > 0) await runWrk({ ...common, seconds: settings.warmupMs / 1000 });
  return runWrk({ ...common, seconds: settings.durationMs / 1000 });
}

async function measureAll(ctx: Context, settings: BenchSettings, roundCount: number, running: Array<{ stop: () => Promise<void> }>): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  const live = new Map<Outcome, RunningSystem>();
  for (const spec of systems) {
    const outcome: Outcome = { spec, reports: [] };
    outcomes.push(outcome);
    const unavailable = spec.unavailable(ctx);
    if (unavailable) {
      outcome.problem = `skipped: ${unavailable}`;
      console.log(`${spec.label}: ${outcome.problem}`);
      continue;
    }
    process.stdout.write(`${spec.label}: starting … `);
    let system: RunningSystem | undefined;
    try {
      system = await spec.start(ctx);
      running.push(system);
      outcome.spread = await checkSpread(spec, system.port, ctx.upstreams);
      live.set(outcome, system);
      process.stdout.write(`ok, 20 requests all 200 (${outcome.spread})\n`);
    } catch (err) {
      outcome.problem = `failed: ${err instanceof Error ? err.message : String(err)}`;
      process.stdout.write(`${outcome.problem}\n`);
      await system?.stop();
    }
  }

  // Rounds alternate the order, so a drift in background load over the run hits every system.
  for (let r = 0; r < roundCount; r++) {
    const order = r % 2 === 0 ? [...live] : [...live].reverse();
    console.log(`round ${r + 1} of ${roundCount}`);
    for (const [outcome, system] of order) {
      if (outcome.problem) continue;
      process.stdout.write(`  ${outcome.spec.label} … `);
      try {
        const report = await measure(ctx, system.port, settings);
        const died = system.failure();
        if (died) throw new Error(died);
        outcome.reports.push(report);
        const errors = report.non2xx + report.socketErrors;
        process.stdout.write(
          `${Math.round(report.opsPerSec)} req/s, p50 ${report.p50Ms.toFixed(3)} ms, p99 ${report.p99Ms.toFixed(3)} ms` +
            `${errors > 0 ? `, ${report.non2xx} non-2xx and ${report.socketErrors} socket errors` : ''}\n`,
        );
      } catch (err) {
        outcome.problem = `failed during the load: ${err instanceof Error ? err.message : String(err)}`;
        process.stdout.write(`${outcome.problem}\n`);
      }
    }
  }
  return outcomes;
}

const ratio = (value: number) => (Number.isFinite(value) ? `${value.toFixed(2)}x` : '');

function report(outcomes: readonly Outcome[], settings: BenchSettings, roundCount: number): ResultRow[] {
  const measured = outcomes.filter((o) => !o.problem && o.reports.length > 0).map((o) => ({ outcome: o, summary: summarize(o.reports) }));
  const find = (name: string) => measured.find((m) => m.outcome.spec.name === name)?.summary;
  const shoal = find('shoal');
  const haproxy = find('haproxy');
  const nginx = find('nginx');
  const nodeProxy = find('node-http-proxy');

  const rows = measured.map(({ outcome, summary }) => {
    const isShoal = outcome.spec.name === 'shoal';
    const vs = (peer: Summary | undefined) => (isShoal && peer ? ratio(summary.opsPerSec / peer.opsPerSec) : '');
    return [
      outcome.spec.label,
      caseName,
      Math.round(summary.opsPerSec).toString(),
      summary.p50Ms.toFixed(3),
      summary.p99Ms.toFixed(3),
      summary.errors.toString(),
      vs(haproxy),
      vs(nginx),
      vs(nodeProxy),
      isShoal && haproxy ? ratio(summary.p99Ms / haproxy.p99Ms) : '',
    ];
  });
  console.log('');
  console.log(formatTable(['system', 'case', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'req/s vs haproxy', 'vs nginx', 'vs node proxy', 'p99 vs haproxy'], rows));
  const each = roundCount > 1 ? `median of ${roundCount} rounds of ${settings.durationMs / 1000} s` : `one round of ${settings.durationMs / 1000} s`;
  console.log(`req/s, p50, p99: ${each} per system, each after a ${settings.warmupMs / 1000} s warm-up; errors: non-2xx responses and socket errors over all rounds`);
  for (const o of outcomes.filter((o) => o.problem)) console.log(`not measured: ${o.spec.label}: ${o.problem}`);

  console.log('');
  if (!shoal) {
    console.log(`targets: not evaluated, shoal lb was not measured`);
  } else {
    const line = (text: string, peer: Summary | undefined, peerName: string, value: (peer: Summary) => number, met: (v: number) => boolean) => {
      if (!peer) return `  ${text}: n/a (${peerName} not measured)`;
      const v = value(peer);
      return `  ${text}: ${v.toFixed(2)}x — ${met(v) ? 'MET' : 'NOT MET'}`;
    };
    console.log(`targets (shoal lb, ${caseName}):`);
    console.log(line(`req/s >= ${targets.vsHaproxy}x HAProxy's`, haproxy, 'HAProxy', (p) => shoal.opsPerSec / p.opsPerSec, (v) => v >= targets.vsHaproxy));
    console.log(line(`req/s >= ${targets.vsNodeProxy}x the Node proxy's`, nodeProxy, 'the Node proxy', (p) => shoal.opsPerSec / p.opsPerSec, (v) => v >= targets.vsNodeProxy));
    console.log(line(`p99 <= ${targets.p99VsHaproxy}x HAProxy's`, haproxy, 'HAProxy', (p) => shoal.p99Ms / p.p99Ms, (v) => v <= targets.p99VsHaproxy));
    if (shoal.errors > 0) console.log(`  note: shoal lb had ${shoal.errors} errors under load`);
  }

  return measured.map(({ outcome, summary }) => ({
    system: outcome.spec.name,
    case: caseName,
    ops_per_s: round(summary.opsPerSec, 1),
    p50_ms: round(summary.p50Ms, 4),
    p99_ms: round(summary.p99Ms, 4),
  }));
}

export async function run(): Promise<void> {
  const settings = benchSettings({ seconds: 10, warmupSeconds: 2, rounds: 2 });
  const roundCount = settings.rounds;
  const machine = machineInfo();
  const tools: Tools = {
    wrk: findExecutable('wrk'),
    nginx: findExecutable('nginx'),
    haproxy: findExecutable('haproxy'),
    taskset: findExecutable('taskset'),
  };
  const cpus = availableParallelism();
  const { placement: where, note } = placement(cpus, tools.taskset);

  console.log(`gateway: HTTP/1.1 load balancing, round robin over two nginx upstreams answering GET / with a 12-byte body, keep-alive everywhere`);
  console.log(`machine: ${machine.cpus} x ${machine.model}, node ${machine.node}, ${machine.os}`);
  console.log(`tools: ${await versionLine(tools)}`);
  console.log(
    `load: wrk -t1 -c${connections} --latency, ${settings.warmupMs / 1000} s warm-up + ${settings.durationMs / 1000} s measured (BENCH_SECONDS), ` +
      `${roundCount} round(s) (BENCH_ROUNDS); every balancer runs one worker`,
  );
  console.log(`cpus: ${note}`);
  const [load1] = loadavg();
  if (load1 > 0.5) console.log(`warning: load average ${load1.toFixed(2)} before start: other work is running on these CPUs and will skew every system`);

  const lacking = [!tools.nginx && 'nginx (the upstreams)', !tools.wrk && 'wrk (the load)'].filter(Boolean);
  if (lacking.length > 0) {
    console.log(`gateway: cannot run without ${lacking.join(' and ')}: run \`${installHint}\` (Debian/Ubuntu) and try again; nothing measured, results not written`);
    return;
  }

  const dir = mkdtempSync(join(tmpdir(), 'shoal-bench-gateway-'));
  // Also on Ctrl-C, where the signal hook exits without unwinding to the finally below.
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  process.on('exit', removeDir);
  const running: Array<{ stop: () => Promise<void> }> = [];
  let outcomes: Outcome[];
  try {
    console.log(`upstreams: starting two nginx instances (one worker each)`);
    const up = await startUpstreams({ dir, tools, placement: where });
    running.push(...up.running);
    const ctx: Context = { dir, tools, placement: where, upstreams: up.upstreams };
    outcomes = await measureAll(ctx, settings, roundCount, running);
  } finally {
    for (const proc of running.reverse()) await proc.stop();
    removeDir();
    process.off('exit', removeDir);
  }

  const rows = report(outcomes, settings, roundCount);
  const file = writeResults({ suite: 'gateway', machine, rows });
  console.log(`results: ${file}`);
}
