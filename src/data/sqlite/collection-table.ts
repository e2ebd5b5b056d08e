/**
 * One collection's table and its prepared statements, prepared once so hot paths only bind and
 * step. Documents are stored as SQLite JSONB, which queries read without re-parsing JSON text;
 * they are read back as JSON text (rows written as text by older versions read the same way).
 */
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { tableName } from './ddl.ts';
import type { CollectionSpec, JsonDocument, StoredDocument } from '../types.ts';

export interface StoredRow {
  slot: number;
  version: number;
  doc: string;
}

export class CollectionTable {
  readonly spec: CollectionSpec;
  readonly ordinal: number;
  readonly table: string;
  readonly #selectOne: StatementSync;
  readonly #upsertNext: StatementSync;
  readonly #writeExact: StatementSync;
  readonly #deleteOne: StatementSync;
  readonly #exportPage: StatementSync;
  readonly #logSlot: StatementSync;
  readonly #deleteSlot: StatementSync;
  readonly #countBySlot: StatementSync;

  constructor(db: DatabaseSync, spec: CollectionSpec, ordinal: number) {
    this.spec = spec;
    this.ordinal = ordinal;
    const t = tableName(spec.name);
    this.table = t;
    this.#selectOne = db.prepare(`SELECT slot, version, json(doc) AS doc FROM ${t} WHERE key = ? AND id = ?`);
    this.#upsertNext = db.prepare(
      `INSERT INTO ${t} (key, id, slot, version, doc) VALUES (?, ?, ?, 1, jsonb(?))
       ON CONFLICT (key, id) DO UPDATE SET slot = excluded.slot, version = version + 1, doc = excluded.doc
       RETURNING version`,
    );
    this.#writeExact = db.prepare(
      `INSERT INTO ${t} (key, id, slot, version, doc) VALUES (?, ?, ?, ?, jsonb(?))
       ON CONFLICT (key, id) DO UPDATE SET slot = excluded.slot, version = excluded.version, doc = excluded.doc`,
    );
    this.#deleteOne = db.prepare(`DELETE FROM ${t} WHERE key = ? AND id = ? RETURNING slot`);
    this.#exportPage = db.prepare(`SELECT rowid, key, id, version, json(doc) AS doc FROM ${t} WHERE slot = ? AND rowid > ? ORDER BY rowid LIMIT ?`);
    this.#logSlot = db.prepare(`INSERT INTO _changes (collection, slot, key, id) SELECT ?, slot, key, id FROM ${t} WHERE slot = ?`);
    this.#deleteSlot = db.prepare(`DELETE FROM ${t} WHERE slot = ?`);
    this.#countBySlot = db.prepare(`SELECT slot, count(*) AS n FROM ${t} GROUP BY slot`);
  }

  get name(): string {
    return this.spec.name;
  }

  read(key: string, id: string): StoredRow | undefined {
    return this.#selectOne.get(key, id) as StoredRow | undefined;
  }

  /** Upserts and returns the new version (1 for a new document). */
  upsert(key: string, id: string, slot: number, json: string): number {
    return (this.#upsertNext.get(key, id, slot, json) as { version: number }).version;
  }

  write(key: string, id: string, slot: number, version: number, json: string): void {
    this.#writeExact.run(key, id, slot, version, json);
  }

  /** Deletes and returns the slot the document was in, or undefined when absent. */
  remove(key: string, id: string): number | undefined {
    return (this.#deleteOne.get(key, id) as { slot: number } | undefined)?.slot;
  }

  exportSlot(slot: number, afterRowId: number, limit: number): Array<{ rowid: number; key: string; id: string; version: number; doc: string }> {
    return this.#exportPage.all(slot, afterRowId, limit) as Array<{ rowid: number; key: string; id: string; version: number; doc: string }>;
  }

  /** Logs a delete for every document of the slot, then deletes them; returns how many. */
  dropSlot(slot: number): number {
    this.#logSlot.run(this.name, slot);
    return Number(this.#deleteSlot.run(slot).changes);
  }

  slotSizes(): Array<{ slot: number; n: number }> {
    return this.#countBySlot.all() as Array<{ slot: number; n: number }>;
  }
}

export function storedDocument(key: string, id: string, version: number, json: string): StoredDocument {
  return { key, id, version, doc: JSON.parse(json) as JsonDocument };
}
