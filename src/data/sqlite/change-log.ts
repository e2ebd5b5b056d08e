/**
 * The shard's change log: one entry per document change, written in the change's transaction,
 * in commit order. Entries name the document only; a reader takes the document as it is when
 * read, which is at least as new as the change. That is what a slot move's catch-up needs
 * (replaying entries in order converges on the current state) and keeps each write small.
 *
 * The log keeps the newest `retain` entries. A reader asking for changes older than what is kept
 * gets CONFLICT and must restart its copy, rather than silently missing changes.
 */
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { ShoalError } from '../../core/index.ts';

/** Pruning runs once per this many logged changes, to keep it off the per-write path. */
const PRUNE_EVERY = 4096;

export interface ChangeEntry {
  seq: number;
  collection: string;
  slot: number;
  key: string;
  id: string;
}

export class ChangeLog {
  lastSeq = 0;
  /** Every entry up to and including this seq is gone. */
  #prunedThrough = 0;
  #sincePrune = 0;
  readonly #retain: number;
  readonly #insert: StatementSync;
  readonly #deleteBefore: StatementSync;
  readonly #readSequence: StatementSync;
  readonly #readAll: StatementSync;
  readonly #readSlots: StatementSync;

  constructor(db: DatabaseSync, retain: number) {
    if (!Number.isInteger(retain) || retain < 1) throw new ShoalError('BAD_REQUEST', 'retainChanges must be a positive integer');
    this.#retain = retain;
    this.#insert = db.prepare('INSERT INTO _changes (collection, slot, key, id) VALUES (?, ?, ?, ?)');
    this.#deleteBefore = db.prepare('DELETE FROM _changes WHERE seq < ?');
    this.#readSequence = db.prepare("SELECT seq FROM sqlite_sequence WHERE name = '_changes'");
    this.#readAll = db.prepare('SELECT seq, collection, slot, key, id FROM _changes WHERE seq > ? ORDER BY seq LIMIT ?');
    this.#readSlots = db.prepare('SELECT seq, collection, slot, key, id FROM _changes WHERE seq > ? AND slot IN (SELECT value FROM json_each(?)) ORDER BY seq LIMIT ?');
    this.refresh();
    const oldest = db.prepare('SELECT min(seq) AS seq FROM _changes').get() as { seq: number | null };
    this.#prunedThrough = oldest.seq === null ? this.lastSeq : oldest.seq - 1;
  }

  /** Appends an entry; call inside the transaction of the change it records. */
  record(collection: string, slot: number, key: string, id: string): void {
    this.lastSeq = Number(this.#insert.run(collection, slot, key, id).lastInsertRowid);
    if (++this.#sincePrune >= PRUNE_EVERY) {
      this.#sincePrune = 0;
      if (this.lastSeq - this.#retain > this.#prunedThrough) this.truncate(this.lastSeq - this.#retain + 1);
    }
  }

  since(seq: number, slots: readonly number[], limit: number): ChangeEntry[] {
    if (seq < this.#prunedThrough) {
      throw new ShoalError('CONFLICT', `the change log no longer holds changes after seq ${seq} (pruned through ${this.#prunedThrough}); restart the copy`, { seq, prunedThrough: this.#prunedThrough });
    }
    const rows = slots.length === 0 ? this.#readAll.all(seq, limit) : this.#readSlots.all(seq, JSON.stringify(slots), limit);
    return rows as unknown as ChangeEntry[];
  }

  /** Removes entries before beforeSeq; returns how many. */
  truncate(beforeSeq: number): number {
    if (!Number.isSafeInteger(beforeSeq) || beforeSeq < 0) throw new ShoalError('BAD_REQUEST', 'beforeSeq must be a non-negative integer');
    const removed = Number(this.#deleteBefore.run(beforeSeq).changes);
    this.#prunedThrough = Math.max(this.#prunedThrough, Math.min(beforeSeq - 1, this.lastSeq));
    return removed;
  }

  /** Re-reads the end of the log (after a rollback or a bulk insert). */
  refresh(): void {
    const row = this.#readSequence.get() as { seq: number } | undefined;
    this.lastSeq = row?.seq ?? 0;
  }
}
