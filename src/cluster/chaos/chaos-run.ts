/**
 * One chaos run: the register workload for a while, faults on a seeded schedule meanwhile,
 * every fault healed, a pause for the cluster to settle, every key read back, and the history
 * checked. The store and the injector are given, so the same run drives a real cluster
 * (`shoal chaos test`) or one a test makes up.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { seededRandom } from '../../core/index.ts';
import { buildChaosReport, type ChaosReport, type FaultRecord } from './chaos-report.ts';
import { judgeHistory } from './chaos-verdict.ts';
import { fateOfError } from './fate-of-error.ts';
import type { FaultInjector } from './fault-injector.ts';
import { planFaults, type FaultKind, type PlannedFault } from './fault-schedule.ts';
import { HistoryRecorder, type RegisterValue } from './history.ts';
import type { CheckOptions } from './linearizability.ts';
import type { RegisterStore } from './register-store.ts';
import { RegisterWorkload, type WorkloadOperation } from './register-workload.ts';

export interface ChaosRunOptions {
  durationMs: number;
  faults: readonly FaultKind[];
  /** Keys in use at a time. */
  keys: number;
  /** Operations per key before the workload moves to fresh keys (default 1000). */
  opsPerKey?: number;
  /** Operations open on one key at a time, at most (default 4): more clients than keys × this wait their turn. */
  maxOpenPerKey?: number;
  clients: number;
  seed: number;
  /** Makes this run's keys its own (`k1-g1-<runId>` …): a register must start absent. */
  runId: string;
  /** After the faults are healed and every node is back, this long before reading back (default 1 s). */
  settleMs?: number;
  /** How long to wait for killed nodes to be back (default 30 s). */
  recoverTimeoutMs?: number;
  /** How long each key's final read keeps trying (default 20 s). */
  finalReadTimeoutMs?: number;
  thinkMs?: number;
  mix?: Partial<Record<WorkloadOperation, number>>;
  check?: CheckOptions;
  /** A line on what the run is doing now, for a person waiting on it. */
  progress?: (line: string) => void;
}

/** The process name of the final reads in the history. */
export const FINAL_READER = 'final';
const FINAL_READ_RETRY_MS = 250;

export async function runChaosTest(store: RegisterStore, injector: FaultInjector, options: ChaosRunOptions): Promise<ChaosReport> {
  const progress = options.progress ?? (() => {});
  const plan = planFaults({ durationMs: options.durationMs, kinds: options.faults, nodes: await injector.nodes(), random: seededRandom(options.seed) });
  const t0 = performance.now();
  // Times in ms since the start, to a tenth: short enough to read, fine enough to keep real-time order.
  const since = () => Math.round((performance.now() - t0) * 10) / 10;
  const recorder = new HistoryRecorder({ clock: since });
  const workload = new RegisterWorkload({
    store,
    recorder,
    keys: (generation) => pickKeys(options.keys, `g${generation + 1}-${options.runId}`, store, generation),
    ...(options.opsPerKey !== undefined ? { opsPerKey: options.opsPerKey } : {}),
    ...(options.maxOpenPerKey !== undefined ? { maxOpenPerKey: options.maxOpenPerKey } : {}),
    clients: options.clients,
    seed: options.seed,
    ...(options.thinkMs !== undefined ? { thinkMs: options.thinkMs } : {}),
    ...(options.mix ? { mix: options.mix } : {}),
  });
  progress(`running ${options.clients} clients on ${options.keys} keys for ${options.durationMs / 1000} s, ${plan.length} fault(s) planned`);
  const faults: FaultRecord[] = [];
  let healProblems: string[] = [];
  let elapsedMs: number;
  workload.start();
  try {
    const schedule = runSchedule(plan, injector, since, faults, progress);
    await sleep(options.durationMs);
    await workload.stop();
    elapsedMs = since();
    await schedule;
  } finally {
    await workload.stop();
    healProblems = await injector.healAll().catch((err: unknown) => [`heal: ${err instanceof Error ? err.message : String(err)}`]);
  }
  progress('workload stopped, faults healed; waiting for every node to be back');
  const nodesNotBack = await injector.settled(options.recoverTimeoutMs ?? 30_000);
  await sleep(options.settleMs ?? 1_000);
  const keys = workload.keys();
  const keyNodes: Record<string, string> = {};
  for (const key of keys) {
    const node = store.locate?.(key);
    if (node !== undefined) keyNodes[key] = node;
  }
  progress(`reading every key back (${keys.length} in ${workload.generations} generation(s))`);
  const finalReads = await readBack(store, recorder, keys, options.finalReadTimeoutMs ?? 20_000);
  progress('checking the history');
  const history = recorder.history();
  // A longer run has more keys to check: its budget grows with it.
  const verdict = judgeHistory(history, finalReads, FINAL_READER, { timeoutMs: Math.max(60_000, options.durationMs), ...options.check });
  return buildChaosReport({
    seed: options.seed,
    runId: options.runId,
    durationMs: options.durationMs,
    elapsedMs,
    clients: options.clients,
    keysAtATime: options.keys,
    generations: workload.generations,
    keys,
    keyNodes,
    faultKinds: [...options.faults],
    operations: history.filter((op) => op.process !== FINAL_READER),
    faults,
    healProblems,
    nodesNotBack,
    finalReads,
    verdict,
  });
}

/**
 * The run's keys, `k<i>-<runId>`: the part that varies comes first, since keys that differ only
 * in their last characters hash to neighbouring slots (CRC16 is linear), which one shard holds.
 * Where the store can locate keys they are taken from each node in turn, starting `turn` nodes
 * further each generation, so every node's faults meet some of the workload even with fewer
 * keys than nodes.
 */
export function pickKeys(count: number, runId: string, store: Pick<RegisterStore, 'locate'>, turn = 0): string[] {
  const candidates = Array.from({ length: store.locate ? count * 16 : count }, (_, i) => `k${i + 1}-${runId}`);
  if (!store.locate) return candidates;
  const byNode = new Map<string, string[]>();
  for (const key of candidates) {
    const node = store.locate(key) ?? '?';
    let list = byNode.get(node);
    if (!list) byNode.set(node, (list = []));
    list.push(key);
  }
  const sorted = [...byNode].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, list]) => list);
  const shift = turn % sorted.length;
  const queues = [...sorted.slice(shift), ...sorted.slice(0, shift)];
  const keys: string[] = [];
  for (let round = 0; keys.length < count; round++) {
    for (const queue of queues) if (round < queue.length && keys.length < count) keys.push(queue[round]);
  }
  return keys;
}

/** Injects each planned fault when it is due, one after the other; a fault that cannot be injected is recorded as failed, and the run goes on. */
async function runSchedule(plan: readonly PlannedFault[], injector: FaultInjector, since: () => number, out: FaultRecord[], progress: (line: string) => void): Promise<void> {
  for (const fault of plan) {
    const wait = fault.atMs - since();
    if (wait > 0) await sleep(wait);
    const startedMs = since();
    try {
      const detail = await injector.inject(fault);
      out.push({ ...fault, startedMs, outcome: 'injected', detail });
      progress(`+${(startedMs / 1000).toFixed(1)}s ${fault.kind} ${fault.node} (${detail})`);
    } catch (err) {
      const detail = err instanceof Error ? err.message : String(err);
      out.push({ ...fault, startedMs, outcome: 'failed', detail });
      progress(`+${(startedMs / 1000).toFixed(1)}s ${fault.kind} ${fault.node} failed: ${detail}`);
    }
  }
}

/**
 * Reads each key until a read succeeds (a node may still be catching up), recording every
 * attempt. A key no read reached within the time is left out of the answer.
 */
async function readBack(store: RegisterStore, recorder: HistoryRecorder, keys: readonly string[], timeoutMs: number): Promise<Map<string, RegisterValue | null>> {
  const until = performance.now() + timeoutMs;
  const reads = new Map<string, RegisterValue | null>();
  for (const key of keys) {
    for (;;) {
      const handle = recorder.invoke(FINAL_READER, key, { kind: 'read' });
      try {
        const stored = await store.get(key);
        handle.ok(stored?.n ?? null);
        reads.set(key, stored?.n ?? null);
        break;
      } catch (err) {
        if (fateOfError(err) === 'uncertain') handle.uncertain();
        else handle.fail();
        if (performance.now() >= until) break;
        await sleep(FINAL_READ_RETRY_MS);
      }
    }
  }
  return reads;
}
