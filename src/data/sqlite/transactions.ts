/**
 * Transactions of a shard database: BEGIN IMMEDIATE takes the write lock up front, so a
 * transaction never fails halfway for want of it, and savepoints let one group commit undo a
 * single failed write. Undone work may have moved the change log's end, so every rollback
 * re-reads it.
 */
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { ChangeLog } from './change-log.ts';

export type Attempt<T> = { ok: true; value: T } | { ok: false; error: unknown };

export class Transactions {
  readonly #begin: StatementSync;
  readonly #commit: StatementSync;
  readonly #rollback: StatementSync;
  readonly #savepoint: StatementSync;
  readonly #release: StatementSync;
  readonly #rollbackToSavepoint: StatementSync;
  readonly #changes: ChangeLog;

  constructor(db: DatabaseSync, changes: ChangeLog) {
    this.#begin = db.prepare('BEGIN IMMEDIATE');
    this.#commit = db.prepare('COMMIT');
    this.#rollback = db.prepare('ROLLBACK');
    this.#savepoint = db.prepare('SAVEPOINT write');
    this.#release = db.prepare('RELEASE write');
    this.#rollbackToSavepoint = db.prepare('ROLLBACK TO write');
    this.#changes = changes;
  }

  #depth = 0;

  /**
   * Runs work in one transaction: all of it commits, or none of it when it throws. Called
   * inside another run(), the work joins the outer transaction (a replica step applies many
   * commands, each of which would run alone otherwise).
   */
  run<T>(work: () => T): T {
    if (this.#depth > 0) return work();
    this.#depth++;
    try {
      return this.#outermost(work);
    } finally {
      this.#depth--;
    }
  }

  #outermost<T>(work: () => T): T {
    this.#begin.run();
    try {
      const result = work();
      this.#commit.run();
      return result;
    } catch (err) {
      this.#rollback.run();
      this.#changes.refresh();
      throw err;
    }
  }

  /** Inside run(): work under a savepoint; a failure undoes this work alone and is answered, not thrown. */
  attempt<T>(work: () => T): Attempt<T> {
    this.#savepoint.run();
    try {
      const value = work();
      this.#release.run();
      return { ok: true, value };
    } catch (error) {
      this.#rollbackToSavepoint.run();
      this.#release.run();
      this.#changes.refresh();
      return { ok: false, error };
    }
  }
}
