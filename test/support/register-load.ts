/**
 * The chaos run's register workload for a test that decides itself when the load ends (after a
 * scale-out and back, say) rather than after a fixed time: start it, do what the test does,
 * then `finish()` stops it, reads every key back and judges the history with the checker.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { FINAL_READER, HistoryRecorder, RegisterWorkload, fateOfError, judgeHistory, pickKeys, type ChaosVerdict, type RegisterStore, type RegisterValue } from '../../src/cluster/chaos/index.ts';

export interface RegisterLoadOptions {
  store: RegisterStore;
  clients: number;
  keys: number;
  seed: number;
  /** Makes the run's keys its own. */
  runId: string;
  /** How long each key's final read keeps trying (default 20 s). */
  finalReadTimeoutMs?: number;
}

export interface RegisterLoadResult {
  verdict: ChaosVerdict;
  operations: { ok: number; failed: number; uncertain: number };
  /** Keys no final read reached. */
  unread: string[];
}

export class RegisterLoad {
  readonly #options: RegisterLoadOptions;
  readonly #recorder: HistoryRecorder;
  readonly #workload: RegisterWorkload;

  constructor(options: RegisterLoadOptions) {
    this.#options = options;
    this.#recorder = new HistoryRecorder();
    this.#workload = new RegisterWorkload({
      store: options.store,
      recorder: this.#recorder,
      keys: (generation) => pickKeys(options.keys, `g${generation + 1}-${options.runId}`, options.store, generation),
      clients: options.clients,
      seed: options.seed,
    });
  }

  start(): void {
    this.#workload.start();
  }

  /** Stops the workload without checking anything (for a test that failed before `finish()`). */
  stop(): Promise<void> {
    return this.#workload.stop();
  }

  /** Operations that succeeded so far. */
  get acknowledged(): number {
    return this.#recorder.history().filter((op) => op.process !== FINAL_READER && op.outcome === 'ok').length;
  }

  /** Stops the workload, reads every key back (retrying failed reads a while) and checks the history. */
  async finish(): Promise<RegisterLoadResult> {
    await this.#workload.stop();
    const keys = this.#workload.keys();
    const reads = new Map<string, RegisterValue | null>();
    const until = performance.now() + (this.#options.finalReadTimeoutMs ?? 20_000);
    for (const key of keys) {
      for (;;) {
        const handle = this.#recorder.invoke(FINAL_READER, key, { kind: 'read' });
        try {
          const stored = await this.#options.store.get(key);
          handle.ok(stored?.n ?? null);
          reads.set(key, stored?.n ?? null);
          break;
        } catch (err) {
          if (fateOfError(err) === 'uncertain') handle.uncertain();
          else handle.fail();
          if (performance.now() >= until) break;
          await sleep(250);
        }
      }
    }
    const history = this.#recorder.history();
    const during = history.filter((op) => op.process !== FINAL_READER);
    const count = (outcome: string) => during.filter((op) => op.outcome === outcome).length;
    return {
      verdict: judgeHistory(history, reads, FINAL_READER, { timeoutMs: 60_000 }),
      operations: { ok: count('ok'), failed: count('failed'), uncertain: count('uncertain') },
      unread: keys.filter((key) => !reads.has(key)),
    };
  }
}
