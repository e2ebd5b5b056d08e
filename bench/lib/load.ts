import { LatencyRecorder } from './latency.ts';

/** One measured case: `concurrency` callers in a closed loop, each waiting for its answer. */
export interface LoadSpec {
  concurrency: number;
  warmupMs: number;
  durationMs: number;
}

export interface LoadResult {
  concurrency: number;
  calls: number;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  errors: number;
  firstError?: string;
}

/**
 * Runs a closed loop against `call`: a warm-up whose calls are not recorded, then the measured
 * window. Only calls that start inside the window are recorded, and throughput divides them by
 * the time from the window's start to the last of them finishing, so stragglers are not lost.
 */
export async function runClosedLoop(call: () => Promise<unknown>, spec: LoadSpec): Promise<LoadResult> {
  const recorder = new LatencyRecorder();
  const start = performance.now();
  const measureFrom = start + spec.warmupMs;
  const stopAt = measureFrom + spec.durationMs;
  let errors = 0;
  let firstError: string | undefined;
  let lastEnd = measureFrom;

  const caller = async (): Promise<void> => {
    for (;;) {
      const t0 = performance.now();
      if (t0 >= stopAt) return;
      try {
        await call();
      } catch (err) {
        errors++;
        firstError ??= err instanceof Error ? err.message : String(err);
        // A failing peer may fail synchronously; yield so timers and IPC still run.
        await new Promise((resolve) => setImmediate(resolve));
        continue;
      }
      const t1 = performance.now();
      if (t0 >= measureFrom) {
        recorder.record(t1 - t0);
        if (t1 > lastEnd) lastEnd = t1;
      }
    }
  };

  await Promise.all(Array.from({ length: spec.concurrency }, caller));
  const summary = recorder.summary();
  const seconds = (lastEnd - measureFrom) / 1000;
  const result: LoadResult = {
    concurrency: spec.concurrency,
    calls: summary.count,
    opsPerSec: seconds > 0 ? summary.count / seconds : 0,
    p50Ms: summary.p50Ms,
    p99Ms: summary.p99Ms,
    maxMs: summary.maxMs,
    errors,
  };
  if (firstError !== undefined) result.firstError = firstError;
  return result;
}
