/**
 * Linearizability of register histories with compare-and-set and increment.
 *
 * Keys are independent registers, so a history is linearizable exactly when each key's
 * sub-history is (P-compositionality), and each key is checked alone. Per key the check is the
 * Wing–Gong search with Lowe's memoization, as Porcupine does it: walk the events in time order,
 * try to linearize a call that has begun, and backtrack when a completion is reached whose call
 * could not be placed; a (set of linearized calls, register value) pair already seen is not
 * explored again.
 *
 * Failed operations are left out (they did not take effect). Uncertain operations complete at +∞:
 * one may be linearized anywhere after its invocation, or never; an uncertain read tells nothing.
 */
import { describeOperation, type History, type Operation, type RegisterValue } from './history.ts';

export interface CheckOptions {
  /** Budget for the whole check, shrinking included; default 30 s. Past it the answer is 'unknown'. */
  timeoutMs?: number;
  /** Budget of distinct (linearized set, value) states per key; default 5 000 000. */
  maxStates?: number;
  /** Budget of states for each candidate while shrinking a failing history; default 200 000. */
  shrinkMaxStates?: number;
}

export interface KeyStats {
  key: string;
  /** Operations checked (failed operations and uncertain reads are left out). */
  ops: number;
  statesExplored: number;
  result: boolean | 'unknown';
  ms: number;
}

export type CheckResult =
  | { ok: true; keys: KeyStats[] }
  | {
      ok: false;
      /** The first key (in sorted order) whose history is not linearizable. */
      key: string;
      /** Every key that is not linearizable. */
      failedKeys: string[];
      /** A sub-history of that key that is not linearizable, from which no single operation can be removed. */
      minimalHistory: Operation[];
      explanation: string;
      keys: KeyStats[];
    }
  | { ok: 'unknown'; unknownKeys: string[]; keys: KeyStats[] };

const ABSENT = null;
type State = RegisterValue | null;

function stateKey(state: State): string {
  if (state === null) return '-';
  return (typeof state === 'string' ? 's' : typeof state === 'number' ? 'n' : 'b') + String(state);
}

function show(value: State | undefined): string {
  return value === null || value === undefined ? 'absent' : JSON.stringify(value);
}

/** The register's model: the value after `op` from `state`, or undefined when `op` cannot happen there. */
function step(state: State, op: Operation): State | undefined {
  const certain = op.outcome === 'ok';
  switch (op.kind) {
    case 'read':
      return state === (op.result ?? null) ? state : undefined;
    case 'write':
      return op.value;
    case 'cas':
      if (!certain || op.result === true) return state === op.expected ? op.value : undefined;
      return state !== op.expected ? state : undefined;
    case 'increment': {
      if (state !== null && typeof state !== 'number') return undefined;
      const next = (state ?? 0) + op.delta;
      return !certain || next === op.result ? next : undefined;
    }
  }
}

/** What takes part in the check: failed operations had no effect, uncertain reads say nothing. */
function relevant(op: Operation): boolean {
  return op.outcome !== 'failed' && !(op.kind === 'read' && op.outcome !== 'ok');
}

interface Entry {
  isCall: boolean;
  op: number;
  time: number;
  match: Entry | null;
  prev: Entry | null;
  next: Entry | null;
}

interface KeyCheck {
  result: boolean | 'unknown';
  statesExplored: number;
  /** On failure: the longest linearization found, the operation that could not follow it, and the value then. */
  deepest?: { order: number[]; stuck: number; state: State };
}

interface Budget {
  deadline: number;
  maxStates: number;
}

function checkOps(ops: readonly Operation[], budget: Budget): KeyCheck {
  const n = ops.length;
  if (n === 0) return { result: true, statesExplored: 0 };
  const events: Entry[] = [];
  ops.forEach((op, i) => {
    const call: Entry = { isCall: true, op: i, time: op.call, match: null, prev: null, next: null };
    const ret: Entry = { isCall: false, op: i, time: op.outcome === 'ok' ? op.ret : Infinity, match: null, prev: null, next: null };
    call.match = ret;
    events.push(call, ret);
  });
  // Calls before completions at the same instant: operations that touch in time count as concurrent.
  events.sort((a, b) => a.time - b.time || (a.isCall === b.isCall ? a.op - b.op : a.isCall ? -1 : 1));
  const head: Entry = { isCall: false, op: -1, time: -Infinity, match: null, prev: null, next: null };
  let last = head;
  for (const event of events) {
    last.next = event;
    event.prev = last;
    last = event;
  }
  const lift = (entry: Entry) => {
    entry.prev!.next = entry.next;
    entry.next!.prev = entry.prev;
    const match = entry.match!;
    match.prev!.next = match.next;
    if (match.next) match.next.prev = match.prev;
  };
  const unlift = (entry: Entry) => {
    const match = entry.match!;
    match.prev!.next = match;
    if (match.next) match.next.prev = match;
    entry.prev!.next = entry;
    entry.next!.prev = entry;
  };

  const bits = ops.map((_, i) => 1n << BigInt(i));
  const seen = new Set<string>();
  const stack: { entry: Entry; state: State }[] = [];
  let linearized = 0n;
  let state: State = ABSENT;
  let entry: Entry | null = head.next;
  let deepest: KeyCheck['deepest'];
  let steps = 0;
  while (head.next !== null && entry !== null) {
    if ((++steps & 1023) === 0 && performance.now() > budget.deadline) return { result: 'unknown', statesExplored: seen.size };
    if (entry.isCall) {
      const next = step(state, ops[entry.op]);
      if (next !== undefined) {
        const withThis = linearized | bits[entry.op];
        const memo = `${withThis.toString(36)}|${stateKey(next)}`;
        if (!seen.has(memo)) {
          seen.add(memo);
          if (seen.size > budget.maxStates) return { result: 'unknown', statesExplored: seen.size };
          stack.push({ entry, state });
          state = next;
          linearized = withThis;
          lift(entry);
          entry = head.next;
          continue;
        }
      }
      entry = entry.next;
    } else {
      // The first completion still in the list: its call had to be linearized by now.
      if (ops[entry.op].outcome !== 'ok') return { result: true, statesExplored: seen.size }; // only uncertain ones remain
      if (deepest === undefined || stack.length > deepest.order.length) {
        deepest = { order: stack.map((s) => s.entry.op), stuck: entry.op, state };
      }
      const top = stack.pop();
      if (top === undefined) return { result: false, statesExplored: seen.size, deepest };
      state = top.state;
      linearized &= ~bits[top.entry.op];
      unlift(top.entry);
      entry = top.entry.next;
    }
  }
  return { result: true, statesExplored: seen.size };
}

/** The value an operation relies on having been written: a read's result, a successful swap's expected value, the value an increment started from. */
function observed(op: Operation): State {
  if (op.outcome !== 'ok') return null;
  if (op.kind === 'read') return op.result ?? null;
  if (op.kind === 'cas' && op.result === true) return op.expected;
  if (op.kind === 'increment' && op.result !== undefined) return op.result - op.delta;
  return null;
}

/** The value an operation that surely took effect left behind, if it surely changed the register. */
function surelyWrote(op: Operation): State | undefined {
  if (op.outcome !== 'ok') return undefined;
  if (op.kind === 'write') return op.value;
  if (op.kind === 'cas' && op.result === true) return op.value;
  if (op.kind === 'increment') return op.result;
  return undefined;
}

/** The value an operation may write (undefined: none; 'number': some number not known). */
function mayWrite(op: Operation): State | 'number' | undefined {
  if (op.kind === 'write') return op.value;
  // A swap to the value it expects changes nothing, so it is no source of that value.
  if (op.kind === 'cas') return op.result !== false && op.value !== op.expected ? op.value : undefined;
  if (op.kind === 'increment') return op.outcome === 'ok' ? op.result : 'number';
  return undefined;
}

/**
 * How badly each operation lacks a source for the value it relies on (absent: it has one): 1 when
 * every other operation that may have written it was surely overwritten before this one began
 * (another value surely written entirely between the two), 2 when none was even invoked before it
 * completed.
 */
function unsourced(ops: readonly Operation[]): Map<number, 1 | 2> {
  const sure = ops.flatMap((op) => {
    const value = surelyWrote(op);
    return value === undefined ? [] : [{ op, key: stateKey(value) }];
  });
  const sources = ops.flatMap((op) => {
    const value = mayWrite(op);
    return value === undefined ? [] : [{ op, key: value === 'number' ? 'number' : stateKey(value) }];
  });
  const level = (reader: Operation, accepts: (key: string) => boolean): 0 | 1 | 2 => {
    const candidates = sources.filter((s) => s.op.id !== reader.id && s.op.call <= reader.ret && accepts(s.key));
    if (candidates.length === 0) return 2;
    const live = candidates.some((candidate) => {
      let overwrittenFrom = -Infinity;
      for (const x of sure) {
        if (x.op.ret < reader.call && x.key !== candidate.key && x.op.id !== reader.id) overwrittenFrom = Math.max(overwrittenFrom, x.op.call);
      }
      return !(candidate.op.ret < overwrittenFrom);
    });
    return live ? 0 : 1;
  };
  const out = new Map<number, 1 | 2>();
  for (const op of ops) {
    let found: 0 | 1 | 2 = 0;
    if (op.kind === 'cas' && op.outcome === 'ok' && op.result === false && op.expected === null) {
      // A swap from absent that failed saw some value there: anything written will do.
      found = level(op, () => true);
    } else if (op.kind === 'cas' && op.outcome === 'ok' && op.result === false) {
      // One that expected a value saw another one there: removing the write that put it there
      // would turn "lost a race" into a refusal nothing explains. Absent, at the start, is
      // another value too, until a write surely replaced it; and never "never written".
      const expected = stateKey(op.expected);
      found = level(op, (key) => key !== expected) === 0 ? 0 : 1;
      if (found === 1 && !sure.some((x) => x.op.ret < op.call)) found = 0;
    } else {
      const value = observed(op);
      if (value === null) continue;
      const want = stateKey(value);
      found = level(op, (key) => key === want || (key === 'number' && typeof value === 'number'));
    }
    if (found > 0) out.set(op.id, found as 1 | 2);
  }
  return out;
}

/**
 * Removes operations while what is left stays non-linearizable, first in chunks and then one at a
 * time until no single one can go. A removal may not leave an operation relying on a value that
 * nothing left wrote, or that only surely overwritten writes left, when it had a better source (that
 * would turn "read a stale value" into the less useful "read a value never written"). This keeps
 * the common cases meaningful; in histories dense with increments and uncertain operations the
 * result may still be another violating core than the one a reader would pick. Deterministic for
 * a given history and budget.
 */
function shrink(ops: Operation[], budget: Budget, deadline: number): Operation[] {
  let current = ops;
  const stillFails = (candidate: Operation[]) => {
    const before = unsourced(current);
    for (const [id, level] of unsourced(candidate)) if (level > (before.get(id) ?? 0)) return false;
    return checkOps(candidate, budget).result === false;
  };
  for (let size = Math.floor(current.length / 2); size >= 1; size = Math.floor(size / 2)) {
    for (let i = 0; i < current.length; ) {
      if (performance.now() > deadline) return current;
      const candidate = [...current.slice(0, i), ...current.slice(i + size)];
      if (stillFails(candidate)) current = candidate;
      else i += size;
    }
  }
  for (let changed = true; changed; ) {
    changed = false;
    for (let i = current.length - 1; i >= 0; i--) {
      if (performance.now() > deadline) return current;
      const candidate = [...current.slice(0, i), ...current.slice(i + 1)];
      if (stillFails(candidate)) {
        current = candidate;
        changed = true;
      }
    }
  }
  return current;
}

function explain(key: string, minimal: Operation[], all: History, budget: Budget): string {
  const lines = [`key ${JSON.stringify(key)}: no order of these ${minimal.length} operation(s) is consistent with a register, given their real-time order:`];
  for (const op of minimal) lines.push(`  ${describeOperation(op)}`);
  // (An increment from 0 may have started from absent: that needs no writer.)
  const neverWritten = [...unsourced(minimal)]
    .filter(([, level]) => level === 2)
    .map(([id]) => minimal.find((op) => op.id === id)!)
    .filter((op) => !(op.kind === 'increment' && observed(op) === 0));
  for (const op of neverWritten) {
    const value = observed(op);
    const failedWriters = all.filter(
      (other) => other.key === key && other.outcome === 'failed' && other.kind !== 'read' && other.kind !== 'increment' && other.value === value,
    );
    const by = failedWriters.length > 0 ? `; only failed operations wrote it (${failedWriters.map((w) => `#${w.id}`).join(', ')})` : '';
    lines.push(`#${op.id} relies on ${show(value)}, which no operation that may have taken effect wrote${by}.`);
  }
  const check = checkOps(minimal, budget);
  if (check.deepest !== undefined) {
    const { order, stuck, state } = check.deepest;
    const prefix = order.length > 0 ? `after ${order.map((i) => `#${minimal[i].id}`).join(', ')} the register holds ${show(state)}, and` : 'from the start (absent)';
    lines.push(`Longest linearization found: ${prefix} #${minimal[stuck].id} must take effect before it completes but cannot.`);
  }
  return lines.join('\n');
}

function byKey(history: History): Map<string, Operation[]> {
  const keys = new Map<string, Operation[]>();
  for (const op of history) {
    if (!relevant(op)) continue;
    let list = keys.get(op.key);
    if (list === undefined) keys.set(op.key, (list = []));
    list.push(op);
  }
  return new Map([...keys].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * Whether `history` is linearizable for a register per key. `ok: false` is only answered with a
 * witness; a search that runs out of budget answers 'unknown', never `true`.
 */
export function checkLinearizable(history: History, options: CheckOptions = {}): CheckResult {
  const started = performance.now();
  const deadline = started + (options.timeoutMs ?? 30_000);
  const budget: Budget = { deadline, maxStates: options.maxStates ?? 5_000_000 };
  const keys: KeyStats[] = [];
  const failed: string[] = [];
  const unknown: string[] = [];
  const perKey = byKey(history);
  for (const [key, ops] of perKey) {
    const t0 = performance.now();
    const check = checkOps(ops, budget);
    keys.push({ key, ops: ops.length, statesExplored: check.statesExplored, result: check.result, ms: performance.now() - t0 });
    if (check.result === false) failed.push(key);
    else if (check.result === 'unknown') unknown.push(key);
  }
  if (failed.length > 0) {
    const key = failed[0];
    const shrinkBudget: Budget = { deadline: Infinity, maxStates: options.shrinkMaxStates ?? 200_000 };
    const minimalHistory = shrink(perKey.get(key)!, shrinkBudget, deadline);
    const explanation = explain(key, minimalHistory, history, shrinkBudget);
    return { ok: false, key, failedKeys: failed, minimalHistory, explanation, keys };
  }
  if (unknown.length > 0) return { ok: 'unknown', unknownKeys: unknown, keys };
  return { ok: true, keys };
}

export interface LostWrites {
  /** Keys whose final value no linearization of the history can end with: an acknowledged write was lost (or the value is otherwise wrong). */
  lost: {
    key: string;
    finalValue: RegisterValue | null;
    /** Acknowledged writes to the key that no other acknowledged write followed in real time: one of them had to survive. */
    lastAcknowledged: Operation[];
    minimalHistory: Operation[];
    explanation: string;
  }[];
  /** Keys the search could not decide within its budget. */
  unknown: string[];
}

/**
 * Which keys lost an acknowledged write: the final value read for a key (after the workload
 * stopped; `null` for absent) is appended as a read after everything else, and the key's history
 * checked again. Where that is linearizable nothing acknowledged was lost; where it is not, the
 * key is reported. Keys with no final read are not checked.
 */
export function lostAcknowledgedWrites(
  history: History,
  finalReads: ReadonlyMap<string, RegisterValue | null> | Readonly<Record<string, RegisterValue | null>>,
  options: CheckOptions = {},
): LostWrites {
  const finals = finalReads instanceof Map ? [...finalReads] : Object.entries(finalReads);
  let end = 0;
  let nextId = 0;
  for (const op of history) {
    end = Math.max(end, op.call, Number.isFinite(op.ret) ? op.ret : op.call);
    nextId = Math.max(nextId, op.id + 1);
  }
  const out: LostWrites = { lost: [], unknown: [] };
  const deadline = performance.now() + (options.timeoutMs ?? 30_000);
  for (const [key, finalValue] of finals.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const finalRead: Operation = { id: nextId, process: 'final', key, kind: 'read', call: end + 1, ret: end + 2, outcome: 'ok', result: finalValue };
    const ops = [...history.filter((op) => op.key === key), finalRead];
    const result = checkLinearizable(ops, { ...options, timeoutMs: Math.max(0, deadline - performance.now()) });
    if (result.ok === 'unknown') out.unknown.push(key);
    if (result.ok !== false) continue;
    const acknowledged = ops.filter((op) => op.outcome === 'ok' && (op.kind === 'write' || op.kind === 'increment' || (op.kind === 'cas' && op.result === true)));
    const lastAcknowledged = acknowledged.filter((op) => !acknowledged.some((later) => later.call > op.ret));
    out.lost.push({ key, finalValue, lastAcknowledged, minimalHistory: result.minimalHistory, explanation: result.explanation });
  }
  return out;
}
