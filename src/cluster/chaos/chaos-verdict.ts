/**
 * The verdict on a chaos run's history: whether it is linearizable, final reads included, and
 * which keys lost an acknowledged write.
 */
import type { History, Operation, RegisterValue } from './history.ts';
import { checkLinearizable, lostAcknowledgedWrites, type CheckOptions } from './linearizability.ts';

/** The whole verdict's time budget unless the options give one. */
const DEFAULT_BUDGET_MS = 60_000;

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
  explanation: string;
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
 * `options.timeoutMs` bounds the whole verdict (default 60 s), not each check in it.
 * `history` is the workload's operations followed by the final reads (`finalProcess`'s, made
 * after everything else ended); `finalReads` what those answered per key.
 *
 * A key counts as having lost an acknowledged write when its history during the run is
 * linearizable but no linearization of it ends with the value read back. A key already wrong
 * during the run is a violation, not a loss: the final value says nothing more about it.
 */
export function judgeHistory(
  history: History,
  finalReads: ReadonlyMap<string, RegisterValue | null>,
  finalProcess: string,
  options: CheckOptions = {},
): ChaosVerdict {
  const started = performance.now();
  // One budget for all the checks below, each taking what the ones before it left.
  const deadline = started + (options.timeoutMs ?? DEFAULT_BUDGET_MS);
  const budget = (): CheckOptions => ({ ...options, timeoutMs: Math.max(0, deadline - performance.now()) });
  const during = history.filter((op) => op.process !== finalProcess);
  const duringCheck = checkLinearizable(during, budget());
  const wrongDuring = new Set(duringCheck.ok === false ? duringCheck.failedKeys : []);
  const lost = lostAcknowledgedWrites(during, new Map([...finalReads].filter(([key]) => !wrongDuring.has(key))), budget());

  const whole = checkLinearizable(history, budget());
  const violations: KeyViolation[] = [];
  if (whole.ok === false) {
    for (const key of whole.failedKeys) {
      // The check shrinks only the first failing key; each other one is shrunk on its own.
      const alone = key === whole.key ? whole : checkLinearizable(history.filter((op) => op.key === key), budget());
      if (alone.ok === false) violations.push({ key, minimalHistory: alone.minimalHistory, explanation: alone.explanation });
    }
  }
  const unknownKeys = whole.ok === 'unknown' ? whole.unknownKeys : whole.keys.filter((k) => k.result === 'unknown').map((k) => k.key);
  return {
    linearizable: whole.ok === false ? false : whole.ok,
    violations,
    unknownKeys,
    lostWrites: lost.lost.map(({ key, finalValue, lastAcknowledged, explanation }) => ({ key, finalValue, lastAcknowledged, explanation })),
    lostUnknown: lost.unknown,
    checkMs: performance.now() - started,
  };
}
