/** Shared knobs for every suite, read from the environment. */
export interface BenchSettings {
  /** Measured window of each case. BENCH_SECONDS, default 5 (or the suite's own default). */
  durationMs: number;
  /** Unrecorded warm-up before each case. BENCH_WARMUP_SECONDS, default 1 (or the suite's own default). */
  warmupMs: number;
  /** Times every case is measured; a suite reports the median. BENCH_ROUNDS, default 1 (or the suite's own default). */
  rounds: number;
  /** When set (BENCH_CPU_PROF=DIR), every worker writes a V8 CPU profile into DIR. */
  cpuProfileDir?: string;
}

function seconds(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a number of seconds, got ${JSON.stringify(raw)}`);
  return value;
}

/** A suite's own defaults for the shared knobs, used when the environment leaves them unset. */
export interface SettingsDefaults {
  seconds?: number;
  warmupSeconds?: number;
  rounds?: number;
}

function wholeNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a whole number >= 1, got ${JSON.stringify(raw)}`);
  return value;
}

export function benchSettings(defaults: SettingsDefaults = {}): BenchSettings {
  const settings: BenchSettings = {
    durationMs: Math.max(0.1, seconds('BENCH_SECONDS', defaults.seconds ?? 5)) * 1000,
    warmupMs: seconds('BENCH_WARMUP_SECONDS', defaults.warmupSeconds ?? 1) * 1000,
    rounds: wholeNumber('BENCH_ROUNDS', defaults.rounds ?? 1),
  };
  if (process.env.BENCH_CPU_PROF) settings.cpuProfileDir = process.env.BENCH_CPU_PROF;
  return settings;
}

/** Node flags for a worker: CPU profiling when asked for. */
export function workerFlags(settings: BenchSettings): string[] {
  return settings.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${settings.cpuProfileDir}`] : [];
}
