/**
 * The collections a shard database holds: their specs in the `_collections` table, their
 * tables and indexes, and the prepared CollectionTable of each. The ordinal a collection gets
 * when first created never changes, so exportSlot cursors stay valid across reopen.
 */
import type { DatabaseSync } from 'node:sqlite';
import { ShoalError } from '../../core/index.ts';
import { checkCollectionSpec } from '../collection.ts';
import { CollectionTable } from './collection-table.ts';
import { createIndexDdl, createTableDdl, declaredIndexPrefix, dropIndexDdl, indexesToBuild } from './ddl.ts';
import type { Transactions } from './transactions.ts';
import type { CollectionSpec } from '../types.ts';

export class CollectionCatalog {
  readonly #db: DatabaseSync;
  readonly #tables = new Map<string, CollectionTable>();

  /** Call after the catalog DDL ran: loads what the database already holds. */
  constructor(db: DatabaseSync) {
    this.#db = db;
    const rows = db.prepare('SELECT ordinal, spec FROM _collections ORDER BY ordinal').all() as Array<{ ordinal: number; spec: string }>;
    for (const row of rows) this.#load(JSON.parse(row.spec) as CollectionSpec, row.ordinal);
  }

  /** Creates or evolves a collection: new indexes are built, changed ones rebuilt, undeclared ones dropped. */
  ensure(spec: CollectionSpec, transactions: Transactions): void {
    checkCollectionSpec(spec);
    const previous = this.#tables.get(spec.name)?.spec;
    const stored: CollectionSpec = { ...spec, indexes: spec.indexes.map((i) => ({ name: i.name, fields: [...i.fields] })) };
    const db = this.#db;
    transactions.run(() => {
      for (const ddl of createTableDdl(spec.name)) db.exec(ddl);
      const prefix = declaredIndexPrefix(spec.name);
      const existing = db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND substr(name, 1, ?) = ?").all(prefix.length, prefix) as Array<{ name: string }>;
      const rebuild = new Set(indexesToBuild(previous, stored).map((i) => i.name));
      for (const { name } of existing) {
        const declared = name.slice(prefix.length);
        if (!stored.indexes.some((i) => i.name === declared) || rebuild.has(declared)) db.exec(dropIndexDdl(name));
      }
      for (const index of stored.indexes) db.exec(createIndexDdl(spec.name, index));
      db.prepare('INSERT INTO _collections (name, spec) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET spec = excluded.spec').run(spec.name, JSON.stringify(stored));
    });
    const { ordinal } = db.prepare('SELECT ordinal FROM _collections WHERE name = ?').get(spec.name) as { ordinal: number };
    this.#load(stored, ordinal);
  }

  /** The collection's table; NOT_FOUND for a collection never ensured here. */
  table(collection: unknown): CollectionTable {
    const table = typeof collection === 'string' ? this.#tables.get(collection) : undefined;
    if (!table) throw new ShoalError('NOT_FOUND', `unknown collection ${JSON.stringify(collection)}`, { collection });
    return table;
  }

  find(collection: string): CollectionTable | undefined {
    return this.#tables.get(collection);
  }

  /** Every table, in ordinal order. */
  tables(): CollectionTable[] {
    return [...this.#tables.values()].sort((a, b) => a.ordinal - b.ordinal);
  }

  #load(spec: CollectionSpec, ordinal: number): void {
    this.#tables.set(spec.name, new CollectionTable(this.#db, spec, ordinal));
  }
}
