/**
 * The verdict on a chaos run's history: whether it is linearizable, final reads included, and
 * which keys lost an acknowledged write.
 */
import type { History, Operation, RegisterValue } from './history.ts';
import { checkLinearizable, lostAcknowledgedWrites, type CheckOptions } from './linearizability.ts';

/** The whole verdict's time budget unless the options give one. */
const DEFAULT_BUDGET_MS = 60_000;
/** No key gets less than this while the budget lasts. */
const MIN_KEY_BUDGET_MS = 2_000;

export interface KeyViolation {
  key: string;
  /** A sub-history of the key from which no single operation can be removed and stay non-linearizable. */
  minimalHistory: Operation[];
  explanation: string;
}

export interface LostWrite {
  key: string;
  finalValue: RegisterValue | null;
  /** Acknowledged writes no other acknowledged write followed: one of them had to survive. */
  lastAcknowledged: Operation[];
}

export interface ChaosVerdict {
  /** `unknown` when some key could not be decided within the budget and none failed. */
  linearizable: boolean | 'unknown';
  /** Every key that is not linearizable, each with its own minimal failing sub-history. */
  violations: KeyViolation[];
  unknownKeys: string[];
  lostWrites: LostWrite[];
  /** Keys whose loss of writes could not be decided within the budget. */
  lostUnknown: string[];
  checkMs: number;
}

/**
 * `history` is the workload's operations followed by the final reads (`finalProcess`'s, made
 * after everything else ended); `finalReads` what those answered per key.
 *
 * A key counts as having lost an acknowledged write when its history during the run is
 * linearizable but no linearization of it ends with the value read back. A key already wrong
 * during the run is a violation, not a loss: the final value says nothing more about it.
 *
 * Keys are judged one at a time, each with its share of the budget (`options.timeoutMs`,
 * default 60 s, for the whole verdict): a key whose search explodes is undecided alone instead
 * of leaving no time for the others. The usual case, a key that is fine, costs one search.
 */
export function judgeHistory(
  history: History,
  finalReads: ReadonlyMap<string, RegisterValue | null>,
  finalProcess: string,
  options: CheckOptions = {},
): ChaosVerdict {
  const started = performance.now();
  const deadline = started + (options.timeoutMs ?? DEFAULT_BUDGET_MS);
  const byKey = Map.groupBy(history, (op) => op.key);
  const keys = [...byKey.keys()].sort();
  const verdict: ChaosVerdict = { linearizable: true, violations: [], unknownKeys: [], lostWrites: [], lostUnknown: [], checkMs: 0 };
  keys.forEach((key, index) => {
    const left = deadline - performance.now();
    const share = Math.max(0, Math.min(left, Math.max(MIN_KEY_BUDGET_MS, left / (keys.length - index))));
    judgeKey(key, byKey.get(key)!, finalReads, finalProcess, { ...options, timeoutMs: share }, verdict);
  });
  if (verdict.violations.length > 0) verdict.linearizable = false;
  else if (verdict.unknownKeys.length > 0) verdict.linearizable = 'unknown';
  verdict.checkMs = performance.now() - started;
  return verdict;
}

/** One key's verdict, added to `out`. */
function judgeKey(key: string, ops: Operation[], finalReads: ReadonlyMap<string, RegisterValue | null>, finalProcess: string, options: CheckOptions, out: ChaosVerdict): void {
  const deadline = performance.now() + (options.timeoutMs ?? 0);
  const budget = (): CheckOptions => ({ ...options, timeoutMs: Math.max(0, deadline - performance.now()) });
  const during = ops.filter((op) => op.process !== finalProcess);
  const violation = () => {
    const whole = checkLinearizable(ops, budget());
    if (whole.ok === false) out.violations.push({ key, minimalHistory: whole.minimalHistory, explanation: whole.explanation });
    else if (whole.ok === 'unknown') out.unknownKeys.push(key);
  };
  if (!finalReads.has(key)) {
    const check = checkLinearizable(during, budget());
    if (check.ok === 'unknown') out.unknownKeys.push(key);
    else if (check.ok === false) violation();
    return;
  }
  // The run and its read-back together: linearizable there, linearizable during the run too (a read changes nothing).
  const lost = lostAcknowledgedWrites(during, new Map([[key, finalReads.get(key)!]]), budget());
  if (lost.unknown.length > 0) {
    out.unknownKeys.push(key);
    out.lostUnknown.push(key);
    return;
  }
  if (lost.lost.length === 0) return;
  const alone = checkLinearizable(during, budget());
  if (alone.ok === true) {
    // The evidence is the violation's below, which names the real final read.
    const { finalValue, lastAcknowledged } = lost.lost[0];
    out.lostWrites.push({ key, finalValue, lastAcknowledged });
  } else if (alone.ok === 'unknown') {
    out.lostUnknown.push(key);
  }
  // Shrunk again with the real final read, so the evidence names the operations the report lists.
  violation();
}
