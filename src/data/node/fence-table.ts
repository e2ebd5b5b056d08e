import type { Coordinator, Watch } from '../../control/index.ts';
import { silentLogger, toShoalError, type Logger } from '../../core/index.ts';
import { MOVES_PREFIX } from '../map/keys.ts';
import { fencesSource, isMoveRecord } from '../rebalance/move-record.ts';

interface Fence {
  shard: number;
  first: number;
  last: number;
}

/**
 * Slots whose writes this node refuses while they switch shards. The move records in the
 * coordinator are the truth, so a source restarted in the middle of a switch fences again
 * before it serves; the rebalancer's fence/unfence calls only make the change take effect
 * before the watch would deliver it.
 */
export class FenceTable {
  readonly #fences = new Map<string, Fence>();
  readonly #coordinator: Coordinator;
  readonly #logger: Logger;
  #watch?: Watch;

  constructor(coordinator: Coordinator, logger: Logger = silentLogger) {
    this.#coordinator = coordinator;
    this.#logger = logger;
  }

  /** Loads the fences of moves in flight, then follows changes; rejects while the coordinator is unreachable. */
  async load(): Promise<void> {
    const { entries, revision } = await this.#coordinator.list(MOVES_PREFIX);
    for (const entry of entries) this.#apply(entry.key, entry.value);
    this.#watch = this.#coordinator.watch(
      MOVES_PREFIX,
      (event) => {
        if (event.type === 'put') this.#apply(event.entry.key, event.entry.value);
        else if (event.type === 'delete') this.#fences.delete(event.key);
        else void this.#reload();
      },
      { afterRevision: revision },
    );
  }

  async #reload(): Promise<void> {
    try {
      const { entries } = await this.#coordinator.list(MOVES_PREFIX);
      this.#fences.clear();
      for (const entry of entries) this.#apply(entry.key, entry.value);
    } catch (err) {
      this.#logger.warn({ err: toShoalError(err).message }, 'could not reload move records');
    }
  }

  #apply(key: string, value: unknown): void {
    if (isMoveRecord(value) && fencesSource(value.phase)) this.#fences.set(key, { shard: value.fromShard, first: value.first, last: value.last });
    else this.#fences.delete(key);
  }

  fence(key: string, shard: number, first: number, last: number): void {
    this.#fences.set(key, { shard, first, last });
  }

  unfence(key: string): void {
    this.#fences.delete(key);
  }

  isFenced(shard: number, slot: number): boolean {
    for (const f of this.#fences.values()) if (f.shard === shard && slot >= f.first && slot <= f.last) return true;
    return false;
  }

  close(): void {
    this.#watch?.close();
  }
}
