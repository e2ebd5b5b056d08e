/**
 * What a chaos run reports, as plain JSON (operations with finite times, no Infinity), so that
 * `shoal chaos test --json` prints it as it is and a script can read it.
 */
import type { ChaosVerdict } from './chaos-verdict.ts';
import type { FaultKind, PlannedFault } from './fault-schedule.ts';
import { describeOperation, type Operation, type Outcome, type RegisterValue } from './history.ts';

export interface OutcomeCounts {
  total: number;
  ok: number;
  failed: number;
  uncertain: number;
}

/** An operation as a report shows it; `retMs` is null for one whose end is not known. */
export interface ReportedOperation {
  id: number;
  process: string;
  key: string;
  kind: Operation['kind'];
  /** What a write or compare-and-set wrote. */
  value?: RegisterValue;
  /** What a compare-and-set expected (null: absent). */
  expected?: RegisterValue | null;
  delta?: number;
  result?: RegisterValue | boolean | null;
  outcome: Outcome;
  callMs: number;
  retMs: number | null;
  /** One line: `#12 c3 cas k1 1000000→2000000 = false [100.5, 104.2]`. */
  text: string;
}

export interface FaultRecord extends PlannedFault {
  /** When it was injected, in ms after the workload started (atMs is when it was due). */
  startedMs: number;
  outcome: 'injected' | 'failed';
  /** What was done (`pid 4242`, `from node-1, node-3`), or why it failed. */
  detail: string;
}

export interface ChaosReport {
  seed: number;
  /** The prefix of this run's keys. */
  runId: string;
  durationMs: number;
  /** How long the workload actually ran, until its last operation ended. */
  elapsedMs: number;
  clients: number;
  /** Keys in use at a time, and how many sets of them the workload went through. */
  keysAtATime: number;
  generations: number;
  /** Every key the workload used, in order of generation. */
  keys: string[];
  /** The node that held each key when the run ended, where the store could tell. */
  keyNodes: Record<string, string>;
  faultKinds: FaultKind[];
  /** The workload's operations (final reads aside). */
  operations: OutcomeCounts & { byKind: Record<Operation['kind'], OutcomeCounts> };
  faults: FaultRecord[];
  /** Faults that could not be cleared at the end, one line each. */
  healProblems: string[];
  /** Nodes not running and healthy again when the final reads began. */
  nodesNotBack: string[];
  /** Per key, the value read back after the run (null: absent). */
  finalReads: Record<string, RegisterValue | null>;
  /** Keys that could not be read back. */
  unreadKeys: string[];
  /** Keys that lost an acknowledged write; each is among the violations too, with its evidence. */
  lostWrites: Array<{ key: string; finalValue: RegisterValue | null; lastAcknowledged: ReportedOperation[] }>;
  lostUnknown: string[];
  linearizable: boolean | 'unknown';
  violations: Array<{ key: string; minimalHistory: ReportedOperation[]; explanation: string }>;
  unknownKeys: string[];
  checkMs: number;
  /** Linearizable, nothing lost, every key read back and decided. */
  passed: boolean;
}

export interface ChaosReportInput {
  seed: number;
  runId: string;
  durationMs: number;
  elapsedMs: number;
  clients: number;
  keysAtATime: number;
  generations: number;
  keys: string[];
  keyNodes: Record<string, string>;
  faultKinds: FaultKind[];
  /** The workload's operations, final reads aside. */
  operations: readonly Operation[];
  faults: FaultRecord[];
  healProblems: string[];
  nodesNotBack: string[];
  finalReads: ReadonlyMap<string, RegisterValue | null>;
  verdict: ChaosVerdict;
}

function counts(ops: readonly Operation[]): OutcomeCounts {
  const out: OutcomeCounts = { total: ops.length, ok: 0, failed: 0, uncertain: 0 };
  for (const op of ops) out[op.outcome]++;
  return out;
}

export function reportedOperation(op: Operation): ReportedOperation {
  const out: ReportedOperation = {
    id: op.id,
    process: op.process,
    key: op.key,
    kind: op.kind,
    outcome: op.outcome,
    callMs: op.call,
    retMs: Number.isFinite(op.ret) ? op.ret : null,
    text: describeOperation(op),
  };
  if (op.kind === 'write' || op.kind === 'cas') out.value = op.value;
  if (op.kind === 'cas') out.expected = op.expected;
  if (op.kind === 'increment') out.delta = op.delta;
  if (op.outcome === 'ok' && op.kind !== 'write') out.result = op.result;
  return out;
}

export function buildChaosReport(input: ChaosReportInput): ChaosReport {
  const { verdict, operations } = input;
  const byKind = {
    read: counts(operations.filter((op) => op.kind === 'read')),
    write: counts(operations.filter((op) => op.kind === 'write')),
    cas: counts(operations.filter((op) => op.kind === 'cas')),
    increment: counts(operations.filter((op) => op.kind === 'increment')),
  };
  const unreadKeys = input.keys.filter((key) => !input.finalReads.has(key));
  const passed =
    verdict.linearizable === true && verdict.lostWrites.length === 0 && verdict.lostUnknown.length === 0 && unreadKeys.length === 0;
  return {
    seed: input.seed,
    runId: input.runId,
    durationMs: input.durationMs,
    elapsedMs: input.elapsedMs,
    clients: input.clients,
    keysAtATime: input.keysAtATime,
    generations: input.generations,
    keys: input.keys,
    keyNodes: input.keyNodes,
    faultKinds: input.faultKinds,
    operations: { ...counts(operations), byKind },
    faults: input.faults,
    healProblems: input.healProblems,
    nodesNotBack: input.nodesNotBack,
    finalReads: Object.fromEntries(input.finalReads),
    unreadKeys,
    lostWrites: verdict.lostWrites.map((lost) => ({ ...lost, lastAcknowledged: lost.lastAcknowledged.map(reportedOperation) })),
    lostUnknown: verdict.lostUnknown,
    linearizable: verdict.linearizable,
    violations: verdict.violations.map((v) => ({ ...v, minimalHistory: v.minimalHistory.map(reportedOperation) })),
    unknownKeys: verdict.unknownKeys,
    checkMs: Math.round(verdict.checkMs),
    passed,
  };
}
