import type { ShardEngine, ShardWrite } from '../types.ts';

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
 * everything that arrived while the previous commit blocked the loop) are applied in one
 * transaction by writeBatch and answered after its commit, so they share one fsync instead of
 * queueing behind one each. Each write keeps its own result or error.
 *
 * A write waits in the queue until the end of the turn, so ownership is checked again
 * synchronously just before the batch runs: a slot fenced or moved away in between is sent
 * back through the checks (it then waits for the fence or redirects) rather than written.
 */
export class WriteBatcher {
  private readonly engine: ShardEngine;
  private queue: Pending[] = [];
  private scheduled = false;

  constructor(engine: ShardEngine) {
    this.engine = engine;
  }

  submit<T>(write: ShardWrite, stillHere: () => boolean, again: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ write, stillHere, again, resolve: resolve as (value: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Applies what is queued now; also called before the engine closes, so queued writes are not lost. */
  flush(): void {
    const batch = this.queue;
    this.queue = [];
    this.scheduled = false;
    const ready: Pending[] = [];
    for (const pending of batch) {
      if (pending.stillHere()) ready.push(pending);
      else pending.again().then(pending.resolve, pending.reject);
    }
    if (ready.length === 0) return;
    let results;
    try {
      results = this.engine.writeBatch(ready.map((p) => p.write));
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
