import type { ShardEngine, ShardWrite, ShardWriteResult } from '../types.ts';

interface Pending {
  write: ShardWrite;
  /** Whether the write may still go to this shard now (owned, not fenced). */
  stillHere: () => boolean;
  /** Sends the write through the ownership checks again; for one that lost its slot while queued. */
  again: () => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit for one shard: writes submitted during one event-loop turn (which includes
 * everything that arrived while the previous commit was under way) are applied in one
 * transaction by writeBatch and answered after its commit, so they share one fsync instead of
 * queueing behind one each. Each write keeps its own result or error.
 *
 * One batch is committed at a time: the next waits for the one in flight, so writes commit in
 * the order they were submitted, and an engine across a network gathers everything that came
 * during a round trip into the next batch.
 *
 * A write waits in the queue until its batch goes, so ownership is checked again synchronously
 * just before writeBatch is called: a slot fenced or moved away in between is sent back through
 * the checks (it then waits for the fence or redirects) rather than written. A fence set while
 * a batch is in flight waits for it (see committed()), so no write it let through lands after.
 */
export class WriteBatcher {
  readonly #engine: ShardEngine;
  #queue: Pending[] = [];
  #scheduled = false;
  /** The batch being committed, settled (never rejected) once its writes are answered. */
  #committing: Promise<void> | undefined;

  constructor(engine: ShardEngine) {
    this.#engine = engine;
  }

  submit<T>(write: ShardWrite, stillHere: () => boolean, again: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ write, stillHere, again, resolve: resolve as (value: unknown) => void, reject });
      this.#schedule();
    });
  }

  /** Sends what is queued now as one batch, unless a batch is in flight (then it goes when that one ends). */
  flush(): void {
    this.#scheduled = false;
    if (this.#committing) return;
    const batch = this.#queue;
    this.#queue = [];
    const ready: Pending[] = [];
    for (const pending of batch) {
      if (pending.stillHere()) ready.push(pending);
      else pending.again().then(pending.resolve, pending.reject);
    }
    if (ready.length === 0) return;
    // Set before the engine can answer, so a fence arriving meanwhile sees the batch in flight.
    this.#committing = this.#commit(ready).then(() => {
      this.#committing = undefined;
      if (this.#queue.length > 0) this.#schedule();
    });
  }

  /** Resolves once the batch in flight now (if any) is committed and answered. */
  async committed(): Promise<void> {
    await this.#committing;
  }

  /** Commits everything queued or in flight; called before the engine closes, so accepted writes are not lost. */
  async settle(): Promise<void> {
    for (;;) {
      if (this.#committing) await this.#committing;
      else if (this.#queue.length > 0) this.flush();
      else return;
    }
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => this.flush());
  }

  async #commit(ready: Pending[]): Promise<void> {
    let results: ShardWriteResult[];
    try {
      results = await this.#engine.writeBatch(ready.map((p) => p.write));
    } catch (err) {
      // The commit failed: nothing of the batch is stored.
      for (const pending of ready) pending.reject(err);
      return;
    }
    ready.forEach((pending, i) => {
      const result = results[i];
      if (result.ok) pending.resolve(result.value);
      else pending.reject(result.error);
    });
  }
}
