/**
 * Operation histories of a register workload: what each client asked for, when, and how it ended.
 * The linearizability checker reads them; `HistoryRecorder` is how a workload writes them.
 */

/** A register holds one of these, or nothing (`null`: the key is absent). */
export type RegisterValue = string | number | boolean;

/** What a client asked for. */
export type OperationInput =
  | { kind: 'read' }
  | { kind: 'write'; value: RegisterValue }
  /** Sets `value` if the register holds `expected` (`null`: only if absent). */
  | { kind: 'cas'; expected: RegisterValue | null; value: RegisterValue }
  /** Adds `delta` to a number (an absent key counts as 0); its result is the new value. */
  | { kind: 'increment'; delta: number };

/**
 * - `ok`: completed, with its result.
 * - `failed`: definitely did not take effect (refused before it was sent, say). A compare-and-set
 *   that answered "conflict" is `ok` with result `false`, not `failed`.
 * - `uncertain`: may or may not have taken effect (a timeout, a connection lost after sending). It
 *   may take effect at any time after its invocation, or never.
 */
export type Outcome = 'ok' | 'failed' | 'uncertain';

/** The result an `ok` operation of each kind carries. */
export interface ResultOfKind {
  /** `null` when the key is absent. */
  read: RegisterValue | null;
  write: undefined;
  /** Whether the swap happened. */
  cas: boolean;
  /** The value after the increment. */
  increment: number;
}

export type ResultOf<I extends OperationInput> = ResultOfKind[I['kind']];

interface OperationFields {
  /** Unique within one history; the order of invocation when a recorder made it. */
  id: number;
  /** The client (process, connection, worker) that issued it; one client has one call open at a time. */
  process: string;
  key: string;
  /** Invocation time. */
  call: number;
  /** Completion time; `Infinity` for an uncertain or still-pending operation. */
  ret: number;
  outcome: Outcome;
}

/** One operation of a history; `result` is set when `outcome` is `ok` (a write has none). */
export type Operation = OperationFields &
  (
    | { kind: 'read'; result?: RegisterValue | null }
    | { kind: 'write'; value: RegisterValue; result?: undefined }
    | { kind: 'cas'; expected: RegisterValue | null; value: RegisterValue; result?: boolean }
    | { kind: 'increment'; delta: number; result?: number }
  );

export type History = readonly Operation[];

/** How an operation that a workload invoked ends; call exactly one of these, once. */
export interface OperationHandle<R> {
  readonly id: number;
  ok(result: R): void;
  fail(): void;
  uncertain(): void;
}

export interface HistoryRecorderOptions {
  /** Monotonic time source; default `performance.now`. `counterClock()` gives a deterministic one. */
  clock?: () => number;
}

/** A clock that returns 1, 2, 3, … : each call and completion gets its own instant. */
export function counterClock(start = 0): () => number {
  let now = start;
  return () => ++now;
}

/**
 * Records a workload's operations as they happen. `invoke` right before the request is sent, then
 * `ok`, `fail` or `uncertain` as soon as its fate is known. Operations still open when `history()`
 * is read count as uncertain.
 */
export class HistoryRecorder {
  readonly #clock: () => number;
  readonly #operations: Operation[] = [];

  constructor(options: HistoryRecorderOptions = {}) {
    this.#clock = options.clock ?? (() => performance.now());
  }

  invoke<I extends OperationInput>(process: string, key: string, input: I): OperationHandle<ResultOf<I>> {
    const id = this.#operations.length;
    const operation = { ...input, id, process, key, call: this.#clock(), ret: Infinity, outcome: 'uncertain' } as Operation;
    this.#operations.push(operation);
    let settled = false;
    const settle = (outcome: Outcome, result?: unknown) => {
      if (settled) throw new Error(`operation ${id} (${input.kind} ${key} by ${process}) already completed`);
      settled = true;
      operation.outcome = outcome;
      if (outcome === 'uncertain') return;
      operation.ret = this.#clock();
      if (outcome === 'ok' && input.kind !== 'write') (operation as { result?: unknown }).result = result;
    };
    return {
      id,
      ok: (result) => settle('ok', result),
      fail: () => settle('failed'),
      uncertain: () => settle('uncertain'),
    };
  }

  /** A copy of every operation so far, in order of invocation. */
  history(): Operation[] {
    return this.#operations.map((operation) => ({ ...operation }));
  }

  get size(): number {
    return this.#operations.length;
  }
}

/** One line for an operation, for reports: `#12 c3 cas k1 1→2 = false [100, 104]`. */
export function describeOperation(op: Operation): string {
  const show = (value: RegisterValue | null | undefined) => (value === null || value === undefined ? 'absent' : JSON.stringify(value));
  let what: string;
  switch (op.kind) {
    case 'read':
      what = `read ${op.key}` + (op.outcome === 'ok' ? ` → ${show(op.result)}` : '');
      break;
    case 'write':
      what = `write ${op.key} ${show(op.value)}`;
      break;
    case 'cas':
      what = `cas ${op.key} ${show(op.expected)}→${show(op.value)}` + (op.outcome === 'ok' ? ` = ${op.result === true}` : '');
      break;
    case 'increment':
      what = `increment ${op.key} by ${op.delta}` + (op.outcome === 'ok' ? ` → ${op.result}` : '');
      break;
  }
  const until = Number.isFinite(op.ret) ? String(op.ret) : '∞';
  const outcome = op.outcome === 'ok' ? '' : ` (${op.outcome})`;
  return `#${op.id} ${op.process} ${what} [${op.call}, ${until}]${outcome}`;
}
