/**
 * A register workload that a fault test starts and stops around faults of its own making (the
 * test decides when to cut, heal and look, rather than a seeded schedule), then reads every key
 * back and judges the history: linearizable, and no acknowledged write lost.
 *
 * It also records, per data call the router sent to a named node, when it was sent and how
 * many writes that node acknowledged in its answer, so a test can say which node acknowledged
 * what and when: a leader cut off from its majority must acknowledge nothing sent after the cut.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  fateOfError,
  FINAL_READER,
  HistoryRecorder,
  judgeHistory,
  RegisterWorkload,
  type ChaosVerdict,
  type OutcomeCounts,
  type RegisterStore,
  type RegisterValue,
} from '../../src/cluster/chaos/index.ts';
import type { DataClientConnection } from '../../src/data/index.ts';

const WRITE_ACTIONS = new Set(['shardPut', 'shardUpdate', 'shardDelete', 'shardIncrement']);

/** One data call to a named node: when it left, when it ended, and the writes in it that node acknowledged. */
export interface AnsweredCall {
  node: string;
  action: string;
  sentAt: number;
  endedAt: number;
  /** Writes sent in the call (one, or the write ops of a shardBatch). */
  writes: number;
  /** Of those, the ones answered with success. */
  acknowledged: number;
}

/**
 * The connection a data client is made from, with its calls to named nodes recorded: only
 * `call` is wrapped, so routing, retries and batching are the router's own.
 */
export function recordingConnection(connection: DataClientConnection, clock: () => number, out: AnsweredCall[]): DataClientConnection {
  const inner = connection.caller;
  return {
    coordinator: connection.coordinator,
    logger: connection.logger,
    caller: {
      nodeId: inner.nodeId,
      registry: inner.registry,
      call: async (service, version, action, params, options) => {
        const node = options?.node;
        const writes = service === '$data' && node !== undefined ? writesIn(action, params) : 0;
        const sentAt = clock();
        let answer: unknown;
        try {
          answer = await inner.call(service, version, action, params, options);
        } catch (err) {
          if (writes > 0) out.push({ node: node!, action, sentAt, endedAt: clock(), writes, acknowledged: 0 });
          throw err;
        }
        if (writes > 0) out.push({ node: node!, action, sentAt, endedAt: clock(), writes, acknowledged: acknowledgedIn(action, params, answer) });
        return answer;
      },
    },
  };
}

function writesIn(action: string, params: unknown): number {
  if (WRITE_ACTIONS.has(action)) return 1;
  if (action !== 'shardBatch') return 0;
  return ((params as { ops: Array<{ action: string }> }).ops ?? []).filter((op) => WRITE_ACTIONS.has(op.action)).length;
}

function acknowledgedIn(action: string, params: unknown, answer: unknown): number {
  if (WRITE_ACTIONS.has(action)) return 1;
  const ops = (params as { ops: Array<{ action: string }> }).ops;
  const answers = answer as Array<{ value?: unknown; error?: unknown }>;
  return ops.filter((op, i) => WRITE_ACTIONS.has(op.action) && answers[i] !== undefined && !('error' in answers[i])).length;
}

export interface RegisterRunOptions {
  store: RegisterStore;
  /** The keys of each generation (see RegisterWorkload). */
  keys: (generation: number) => readonly string[];
  clients: number;
  seed: number;
  /** The history's clock (default: ms since the run was made); share one with other records to compare times. */
  clock?: () => number;
}

/** A clock in ms since it was made, to a tenth: fine enough to keep real-time order, short enough to read. */
export function runClock(): () => number {
  const t0 = performance.now();
  return () => Math.round((performance.now() - t0) * 10) / 10;
}

export interface RegisterRunResult {
  verdict: ChaosVerdict;
  /** What each key read back as after the run (null: absent). */
  finalReads: Map<string, RegisterValue | null>;
  /** Keys no final read reached. */
  unread: string[];
  operations: OutcomeCounts;
}

/** The workload, its history and the clock of its times. */
export class RegisterRun {
  readonly recorder: HistoryRecorder;
  readonly now: () => number;
  readonly #store: RegisterStore;
  readonly #workload: RegisterWorkload;

  constructor(options: RegisterRunOptions) {
    this.#store = options.store;
    this.now = options.clock ?? runClock();
    this.recorder = new HistoryRecorder({ clock: this.now });
    this.#workload = new RegisterWorkload({ store: options.store, recorder: this.recorder, keys: options.keys, clients: options.clients, seed: options.seed });
  }

  start(): void {
    this.#workload.start();
  }

  stop(): Promise<void> {
    return this.#workload.stop();
  }

  keys(): string[] {
    return this.#workload.keys();
  }

  /** Writes (plain, swaps that happened, increments) invoked at or after `from` and acknowledged by `to`, on `keys` if given. */
  acknowledgedWrites(from: number, to: number, keys?: ReadonlySet<string>): number {
    return this.recorder
      .history()
      .filter((op) => op.outcome === 'ok' && op.call >= from && op.ret <= to && (keys === undefined || keys.has(op.key)))
      .filter((op) => op.kind === 'write' || op.kind === 'increment' || (op.kind === 'cas' && op.result === true)).length;
  }

  /** Stops the workload, reads every key back (each read retried until one succeeds) and judges the history. */
  async finish(finalReadTimeoutMs = 30_000): Promise<RegisterRunResult> {
    await this.#workload.stop();
    const finalReads = new Map<string, RegisterValue | null>();
    const until = performance.now() + finalReadTimeoutMs;
    for (const key of this.keys()) {
      for (;;) {
        const handle = this.recorder.invoke(FINAL_READER, key, { kind: 'read' });
        try {
          const stored = await this.#store.get(key);
          handle.ok(stored?.n ?? null);
          finalReads.set(key, stored?.n ?? null);
          break;
        } catch (err) {
          if (fateOfError(err) === 'uncertain') handle.uncertain();
          else handle.fail();
          if (performance.now() >= until) break;
          await sleep(250);
        }
      }
    }
    const history = this.recorder.history();
    const during = history.filter((op) => op.process !== FINAL_READER);
    const operations: OutcomeCounts = { total: during.length, ok: 0, failed: 0, uncertain: 0 };
    for (const op of during) operations[op.outcome]++;
    const verdict = judgeHistory(history, finalReads, FINAL_READER, { timeoutMs: 90_000 });
    return { verdict, finalReads, unread: this.keys().filter((k) => !finalReads.has(k)), operations };
  }
}
