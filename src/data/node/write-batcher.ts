import type { ShardWrite, ShardWriteResult } from '../types.ts';

/** Commits a batch: one transaction, or one entry of a replicated log. Batches are handed over in order and must commit in that order. */
export type CommitBatch = (writes: readonly ShardWrite[]) => Promise<ShardWriteResult[]>;

/**
 * Batches in flight at once. A replicated log keeps them in order, so a new batch need not wait
 * for the round trip to the followers of the one before; the cap keeps a stalled follower set
 * from piling up unbounded work.
 */
const MAX_IN_FLIGHT = 8;

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
 * Batches are handed to the commit function in submission order (a replicated log keeps that
 * order), up to MAX_IN_FLIGHT at once; everything that arrives meanwhile gathers into the next.
 *
 * A write waits in the queue until its batch goes, so ownership is checked again synchronously
 * just before writeBatch is called: a slot fenced or moved away in between is sent back through
 * the checks (it then waits for the fence or redirects) rather than written. A fence set while
 * a batch is in flight waits for it (see committed()), so no write it let through lands after.
 */
export class WriteBatcher {
  readonly #commitBatch: CommitBatch;
  #queue: Pending[] = [];
  #scheduled = false;
  /** Batches being committed, each settled (never rejected) once its writes are answered. */
  readonly #committing = new Set<Promise<void>>();

  readonly #maxInFlight: number;

  constructor(commit: CommitBatch, options: { maxInFlight?: number } = {}) {
    this.#commitBatch = commit;
    this.#maxInFlight = options.maxInFlight ?? MAX_IN_FLIGHT;
  }

  submit<T>(write: ShardWrite, stillHere: () => boolean, again: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ write, stillHere, again, resolve: resolve as (value: unknown) => void, reject });
      this.#schedule();
    });
  }

  /** Sends what is queued now as one batch, unless the most allowed are in flight (then it goes when one ends). */
  flush(): void {
    this.#scheduled = false;
    if (this.#committing.size >= this.#maxInFlight) return;
    const batch = this.#queue;
    this.#queue = [];
    const ready: Pending[] = [];
    for (const pending of batch) {
      if (pending.stillHere()) ready.push(pending);
      else pending.again().then(pending.resolve, pending.reject);
    }
    if (ready.length === 0) return;
    // Added before the commit can answer, so a fence arriving meanwhile sees the batch in flight.
    const committing: Promise<void> = this.#commit(ready).then(() => {
      this.#committing.delete(committing);
      if (this.#queue.length > 0) this.#schedule();
    });
    this.#committing.add(committing);
  }

  /** Resolves once the batches in flight now (if any) are committed and answered. */
  async committed(): Promise<void> {
    await Promise.all([...this.#committing]);
  }

  /** Commits everything queued or in flight; called before the engine closes, so accepted writes are not lost. */
  async settle(): Promise<void> {
    for (;;) {
      if (this.#committing.size > 0) await this.committed();
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
      results = await this.#commitBatch(ready.map((p) => p.write));
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
