/**
 * When a chaos run injects which fault into which node, decided up front from a seed: the same
 * seed, duration, fault kinds and nodes give the same schedule, so a run that found something
 * can be repeated fault for fault (the workload's timing still varies).
 */

export type FaultKind = 'kill' | 'partition' | 'slow';

export const FAULT_KINDS: readonly FaultKind[] = ['kill', 'partition', 'slow'];

export interface PlannedFault {
  /** Milliseconds after the workload starts. */
  atMs: number;
  kind: FaultKind;
  node: string;
  /** partition and slow: how long the fault stays before it heals by itself. */
  forMs?: number;
  /** slow: latency added per message, and up to this much more at random. */
  latencyMs?: number;
  jitterMs?: number;
}

export interface FaultScheduleOptions {
  durationMs: number;
  kinds: readonly FaultKind[];
  /** The nodes to pick from; sorted first, so the order they come in does not matter. */
  nodes: readonly string[];
  random: () => number;
}

/** Quiet time before the first fault, so the workload has a baseline; at most this, or a tenth of the run. */
const WARMUP_MS = 1_000;
/** What a kill takes out of the schedule: the restart with backoff, before the next fault starts. */
const KILL_WINDOW_MS = 2_500;
/** Partitions and latency last this long (from, span). */
const FAULT_MS = [1_500, 2_500] as const;
/** Calm between one fault's end and the next one. */
const GAP_MS = [500, 1_000] as const;
const LATENCY_MS = [50, 250] as const;
/** The last stretch of the run has no new fault: what starts there would have no time to act. */
const TAIL_MS = 500;

/**
 * One fault at a time, each given time to act and to heal before the next: a schedule that
 * piles faults on top of each other mostly measures the cluster being down.
 */
export function planFaults(options: FaultScheduleOptions): PlannedFault[] {
  const { durationMs, kinds, random } = options;
  const nodes = [...options.nodes].sort();
  if (kinds.length === 0 || nodes.length === 0) return [];
  const between = ([from, span]: readonly [number, number]) => Math.round(from + random() * span);
  const pick = <T>(list: readonly T[]): T => list[Math.min(list.length - 1, Math.floor(random() * list.length))];
  const plan: PlannedFault[] = [];
  let at = Math.round(Math.min(WARMUP_MS, durationMs / 10) + random() * 250);
  while (at < durationMs - TAIL_MS) {
    const kind = pick(kinds);
    const node = pick(nodes);
    if (kind === 'kill') {
      plan.push({ atMs: at, kind, node });
      at += KILL_WINDOW_MS;
    } else {
      const forMs = Math.min(between(FAULT_MS), durationMs - at);
      const fault: PlannedFault = { atMs: at, kind, node, forMs };
      if (kind === 'slow') {
        fault.latencyMs = between(LATENCY_MS);
        fault.jitterMs = Math.round(fault.latencyMs / 5);
      }
      plan.push(fault);
      at += forMs;
    }
    at += between(GAP_MS);
  }
  return plan;
}
