/**
 * Puts to the `records` collection with what each key was last acknowledged to hold, and the
 * values of failed puts since (each may or may not have landed), so a fault test can check
 * that every key reads back its last acknowledged value or a later uncertain one.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { CollectionClient } from '../../src/data/index.ts';

/** A document of the `records` collection (test/support/data-cluster-config.ts). */
type RecordDoc = { key: string; value: number; pad: string };

interface KeyHistory {
  acked?: number;
  uncertain: number[];
}

export class AcknowledgedWrites {
  readonly #collection: CollectionClient<RecordDoc>;
  readonly #history = new Map<string, KeyHistory>();
  readonly #pad: string;
  acknowledged = 0;
  failed = 0;

  constructor(collection: CollectionClient<RecordDoc>, options: { padBytes?: number } = {}) {
    this.#collection = collection;
    this.#pad = 'x'.repeat(options.padBytes ?? 100);
  }

  /** Puts `value` under `key`; answers whether it was acknowledged. Never throws. */
  async put(key: string, value: number): Promise<boolean> {
    let h = this.#history.get(key);
    if (!h) this.#history.set(key, (h = { uncertain: [] }));
    try {
      await this.#collection.put({ key, value, pad: this.#pad });
      h.acked = value;
      h.uncertain = [];
      this.acknowledged++;
      return true;
    } catch {
      h.uncertain.push(value);
      this.failed++;
      return false;
    }
  }

  /** `writers` loops overwriting `keysPerWriter` keys each (`<prefix>-<writer>-<n>`) until the returned stop is called. */
  startWriters(prefix: string, writers: number, keysPerWriter: number): () => Promise<void> {
    let running = true;
    let value = 0;
    const loops = Array.from({ length: writers }, async (_, w) => {
      for (let n = 0; running; n++) {
        await this.put(`${prefix}-${w}-${n % keysPerWriter}`, value++);
        // A short pause keeps the writers from starving the processes they test.
        await sleep(5);
      }
    });
    return async () => {
      running = false;
      await Promise.all(loops);
    };
  }

  /** Keys with an acknowledged value. */
  get keys(): string[] {
    return [...this.#history].filter(([, h]) => h.acked !== undefined).map(([key]) => key);
  }

  /**
   * Every key that does not read back its last acknowledged value or a later uncertain one,
   * with what it read; rejects when a read fails (the caller decides whether to retry).
   */
  async lost(): Promise<string[]> {
    const keys = [...this.#history.keys()];
    const wrong: string[] = [];
    for (let i = 0; i < keys.length; i += 200) {
      const batch = keys.slice(i, i + 200);
      const docs = await this.#collection.getMany(batch);
      batch.forEach((key, j) => {
        const h = this.#history.get(key)!;
        const got = docs[j]?.doc.value;
        if (h.acked === undefined && (got === undefined || h.uncertain.includes(got))) return;
        if (got !== h.acked && !h.uncertain.includes(got as number)) wrong.push(`${key}: read ${String(got)}, acknowledged ${String(h.acked)}`);
      });
    }
    return wrong;
  }
}
