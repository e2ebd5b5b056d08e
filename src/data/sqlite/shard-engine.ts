/**
 * ShardEngine on SQLite (`node:sqlite`): one database file per shard replica, in WAL mode with
 * synchronous=FULL, so a write is durable when its call returns. Each write is one transaction
 * holding the document change and its change-log entry together, or a part of one shared by a
 * batch (writeBatch), which pays one fsync for many writes.
 */
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { ShoalError } from '../../core/errors.ts';
import { checkCollectionSpec } from '../collection.ts';
import { compileQuery } from '../query/compile.ts';
import { checkQuery, MAX_LIMIT } from '../query/validate.ts';
import { slotOf } from '../slots.ts';
import { ChangeLog } from './change-log.ts';
import { CollectionTable, storedDocument } from './collection-table.ts';
import { DocumentWrites } from './document-writes.ts';
import { QueryPlanner } from './query-plan.ts';
import { CATALOG_DDL, createIndexDdl, createTableDdl, declaredIndexPrefix, dropIndexDdl, indexesToBuild, PRAGMAS } from './ddl.ts';
import { checkDocumentObject, checkLimit, checkRef, checkSlot, checkSlotList } from './input-checks.ts';
import { scanSql, type ScanOptions } from './scan-sql.ts';
import { SlotCounterTable } from './slot-counters.ts';
import type { ChangeRecord, CollectionSpec, DocumentRef, JsonDocument, Query, ShardEngine, ShardQueryResult, ShardWrite, ShardWriteResult, SlotCounters, StoredDocument, WriteOptions } from '../types.ts';

export interface SqliteShardEngineOptions {
  /** Change-log entries kept; older ones are pruned and a catch-up from before them must restart (default 1 000 000). */
  retainChanges?: number;
}

/** exportSlot's cursor packs (collection ordinal, rowid) into one safe integer. */
const ROWID_SPAN = 2 ** 36;
const STATEMENT_CACHE_SIZE = 256;
/** Planner statistics are refreshed (PRAGMA optimize) after this many written documents. */
const OPTIMIZE_EVERY_WRITES = 50_000;

type ExportedDocument = StoredDocument & { collection: string };

export class SqliteShardEngine implements ShardEngine {
  readonly path: string;
  private readonly db: DatabaseSync;
  private readonly collections = new Map<string, CollectionTable>();
  private readonly statements = new Map<string, StatementSync>();
  private readonly changes: ChangeLog;
  private readonly counters = new SlotCounterTable();
  private readonly begin: StatementSync;
  private readonly commit: StatementSync;
  private readonly rollback: StatementSync;
  private readonly savepoint: StatementSync;
  private readonly release: StatementSync;
  private readonly rollbackToSavepoint: StatementSync;
  private readonly writes: DocumentWrites;
  private readonly planner = new QueryPlanner((sql) => this.statement(sql));
  private open = true;
  private writesSinceOptimize = 0;

  constructor(path: string, options: SqliteShardEngineOptions = {}) {
    this.path = path;
    this.db = new DatabaseSync(path);
    try {
      for (const pragma of PRAGMAS) this.db.exec(pragma);
      for (const ddl of CATALOG_DDL) this.db.exec(ddl);
      this.begin = this.db.prepare('BEGIN IMMEDIATE');
      this.commit = this.db.prepare('COMMIT');
      this.rollback = this.db.prepare('ROLLBACK');
      this.savepoint = this.db.prepare('SAVEPOINT write');
      this.release = this.db.prepare('RELEASE write');
      this.rollbackToSavepoint = this.db.prepare('ROLLBACK TO write');
      this.changes = new ChangeLog(this.db, options.retainChanges ?? 1_000_000);
      this.writes = new DocumentWrites(this.changes, (collection) => this.table(collection));
      const rows = this.db.prepare('SELECT ordinal, spec FROM _collections ORDER BY ordinal').all() as Array<{ ordinal: number; spec: string }>;
      for (const row of rows) this.loadCollection(JSON.parse(row.spec) as CollectionSpec, row.ordinal);
      // Statistics for tables that lack them or have changed much, as SQLite advises at open.
      this.db.exec('PRAGMA optimize = 0x10002');
    } catch (err) {
      this.db.close();
      throw err;
    }
  }

  ensureCollection(spec: CollectionSpec): void {
    this.assertOpen();
    checkCollectionSpec(spec);
    const previous = this.collections.get(spec.name)?.spec;
    const stored: CollectionSpec = { ...spec, indexes: spec.indexes.map((i) => ({ name: i.name, fields: [...i.fields] })) };
    this.transaction(() => {
      for (const ddl of createTableDdl(spec.name)) this.db.exec(ddl);
      const prefix = declaredIndexPrefix(spec.name);
      const existing = this.db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND substr(name, 1, ?) = ?").all(prefix.length, prefix) as Array<{ name: string }>;
      const rebuild = new Set(indexesToBuild(previous, stored).map((i) => i.name));
      for (const { name } of existing) {
        const declared = name.slice(prefix.length);
        if (!stored.indexes.some((i) => i.name === declared) || rebuild.has(declared)) this.db.exec(dropIndexDdl(name));
      }
      for (const index of stored.indexes) this.db.exec(createIndexDdl(spec.name, index));
      this.db.prepare('INSERT INTO _collections (name, spec) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET spec = excluded.spec').run(spec.name, JSON.stringify(stored));
    });
    const { ordinal } = this.db.prepare('SELECT ordinal FROM _collections WHERE name = ?').get(spec.name) as { ordinal: number };
    this.statements.clear();
    this.loadCollection(stored, ordinal);
  }

  get(collection: string, ref: DocumentRef): StoredDocument | undefined {
    const table = this.table(collection);
    checkRef(ref);
    const row = table.read(ref.key, ref.id);
    this.counters.read(row ? row.slot : slotOf(ref.key));
    return row ? storedDocument(ref.key, ref.id, row.version, row.doc) : undefined;
  }

  getMany(collection: string, refs: DocumentRef[]): Array<StoredDocument | undefined> {
    this.table(collection);
    if (!Array.isArray(refs)) throw new ShoalError('BAD_REQUEST', 'refs must be an array');
    refs.forEach(checkRef);
    return refs.map((ref) => this.get(collection, ref));
  }

  put(collection: string, ref: DocumentRef, slot: number, doc: JsonDocument, options?: WriteOptions): StoredDocument {
    return this.writeOne({ op: 'put', collection, ref, slot, doc, options }) as StoredDocument;
  }

  update(collection: string, ref: DocumentRef, changes: JsonDocument, options?: WriteOptions): StoredDocument {
    return this.writeOne({ op: 'update', collection, ref, changes, options }) as StoredDocument;
  }

  delete(collection: string, ref: DocumentRef, options?: WriteOptions): boolean {
    return this.writeOne({ op: 'delete', collection, ref, options }) as boolean;
  }

  increment(collection: string, ref: DocumentRef, slot: number, deltas: Record<string, number>): StoredDocument {
    return this.writeOne({ op: 'increment', collection, ref, slot, deltas }) as StoredDocument;
  }

  /**
   * Group commit: one transaction, so one fsync, for many writes. Each write runs under its own
   * savepoint, so one that fails (a version conflict, a bad document) is undone alone.
   */
  writeBatch(writes: readonly ShardWrite[]): ShardWriteResult[] {
    this.assertOpen();
    if (!Array.isArray(writes)) throw new ShoalError('BAD_REQUEST', 'writes must be an array');
    const results: ShardWriteResult[] = [];
    const touched: number[] = [];
    this.transaction(() => {
      for (const write of writes) {
        this.savepoint.run();
        try {
          const done = this.writes.apply(write);
          this.release.run();
          results.push({ ok: true, value: done.value });
          touched.push(done.slot);
        } catch (error) {
          this.rollbackToSavepoint.run();
          this.release.run();
          this.changes.refresh();
          results.push({ ok: false, error });
        }
      }
    });
    for (const slot of touched) this.counters.write(slot);
    this.wrote(touched.length);
    return results;
  }

  scan(collection: string, key: string, options: ScanOptions): StoredDocument[] {
    const table = this.table(collection);
    if (typeof key !== 'string' || key === '') throw new ShoalError('BAD_REQUEST', 'scan needs a non-empty partition key');
    const limit = checkLimit(options?.limit, 100, MAX_LIMIT, 'scan limit');
    const { sql, params } = scanSql(this.db, table.table, table.spec, key, options ?? {}, limit);
    const rows = this.statement(sql).all(...params) as Array<{ key: string; id: string; version: number; doc: string }>;
    this.counters.read(slotOf(key));
    return rows.map((row) => storedDocument(row.key, row.id, row.version, row.doc));
  }

  query(collection: string, query: Query, slots?: readonly number[]): ShardQueryResult {
    const table = this.table(collection);
    const checked = checkQuery(query);
    if (slots !== undefined) checkSlotList(slots);
    // Asked for every slot it holds, the shard need not test each row's slot.
    const scope = slots !== undefined && slots.length > 1 && this.planner.holdsOnly(table.table, slots) ? undefined : slots;
    const compiled = compileQuery(table.table, checked, scope);
    const sql = this.planner.choose(table.table, compiled);
    const rows = this.statement(sql, true).all(...compiled.params) as Array<Record<string, unknown>>;
    return compiled.decode(rows);
  }

  exportSlot(slot: number, options: { afterRowId?: number; limit: number }): { documents: ExportedDocument[]; lastRowId: number; done: boolean } {
    this.assertOpen();
    checkSlot(slot);
    const limit = checkLimit(options?.limit, 1000, 100_000, 'export limit');
    const after = options.afterRowId ?? 0;
    if (!Number.isSafeInteger(after) || after < 0) throw new ShoalError('BAD_REQUEST', 'afterRowId must be a cursor returned by exportSlot');
    const fromOrdinal = Math.floor(after / ROWID_SPAN);
    const documents: ExportedDocument[] = [];
    let lastRowId = after;
    for (const table of [...this.collections.values()].sort((a, b) => a.ordinal - b.ordinal)) {
      if (table.ordinal < fromOrdinal) continue;
      const rows = table.exportSlot(slot, table.ordinal === fromOrdinal ? after % ROWID_SPAN : 0, limit - documents.length);
      for (const row of rows) documents.push({ collection: table.name, ...storedDocument(row.key, row.id, row.version, row.doc) });
      if (rows.length > 0) lastRowId = table.ordinal * ROWID_SPAN + rows[rows.length - 1].rowid;
      if (documents.length >= limit) return { documents, lastRowId, done: false };
    }
    return { documents, lastRowId, done: true };
  }

  importDocuments(slot: number, documents: ExportedDocument[]): void {
    this.assertOpen();
    checkSlot(slot);
    if (!Array.isArray(documents)) throw new ShoalError('BAD_REQUEST', 'documents must be an array');
    const prepared = documents.map((d) => this.copiedDocument(d));
    this.transaction(() => {
      for (const { table, document, json } of prepared) {
        table.write(document.key, document.id, slot, document.version, json);
        this.changes.record(table.name, slot, document.key, document.id);
      }
    });
    this.wrote(prepared.length);
  }

  applyChanges(changes: ChangeRecord[]): void {
    this.assertOpen();
    if (!Array.isArray(changes)) throw new ShoalError('BAD_REQUEST', 'changes must be an array');
    const prepared = changes.map((change) => {
      const table = this.table(change?.collection);
      checkSlot(change.slot);
      checkRef(change);
      return { change, table, copy: change.after === null ? undefined : this.copiedDocument({ ...change.after, collection: change.collection }) };
    });
    this.transaction(() => {
      for (const { change, table, copy } of prepared) {
        if (copy) table.write(change.key, change.id, change.slot, copy.document.version, copy.json);
        else table.remove(change.key, change.id);
        this.changes.record(table.name, change.slot, change.key, change.id);
      }
    });
  }

  changesSince(seq: number, slots: readonly number[], limit: number): ChangeRecord[] {
    this.assertOpen();
    if (!Number.isSafeInteger(seq) || seq < 0) throw new ShoalError('BAD_REQUEST', 'seq must be a non-negative integer');
    checkSlotList(slots);
    const max = checkLimit(limit, 1000, 100_000, 'changes limit');
    return this.changes.since(seq, slots, max).map((entry) => {
      const table = this.collections.get(entry.collection);
      const row = table?.read(entry.key, entry.id);
      return { ...entry, after: row ? storedDocument(entry.key, entry.id, row.version, row.doc) : null };
    });
  }

  lastSeq(): number {
    this.assertOpen();
    return this.changes.lastSeq;
  }

  /** Drops change-log entries before seq, once no slot move needs them; returns how many. */
  truncateChanges(beforeSeq: number): number {
    this.assertOpen();
    return this.changes.truncate(beforeSeq);
  }

  dropSlot(slot: number): number {
    this.assertOpen();
    checkSlot(slot);
    const removed = this.transaction(() => {
      let count = 0;
      for (const table of this.collections.values()) count += table.dropSlot(slot);
      return count;
    });
    this.changes.refresh();
    return removed;
  }

  slotSizes(): Map<number, number> {
    this.assertOpen();
    const sizes = new Map<number, number>();
    for (const table of this.collections.values()) {
      for (const { slot, n } of table.slotSizes()) sizes.set(slot, (sizes.get(slot) ?? 0) + n);
    }
    return sizes;
  }

  slotCounters(): SlotCounters[] {
    return this.counters.list();
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
    this.db.close();
  }

  private loadCollection(spec: CollectionSpec, ordinal: number): void {
    this.collections.set(spec.name, new CollectionTable(this.db, spec, ordinal));
  }

  private table(collection: unknown): CollectionTable {
    this.assertOpen();
    const table = typeof collection === 'string' ? this.collections.get(collection) : undefined;
    if (!table) throw new ShoalError('NOT_FOUND', `unknown collection ${JSON.stringify(collection)}`, { collection });
    return table;
  }

  private copiedDocument(document: ExportedDocument): { table: CollectionTable; document: ExportedDocument; json: string } {
    const table = this.table(document?.collection);
    checkRef(document);
    if (!Number.isSafeInteger(document.version) || document.version < 1) throw new ShoalError('BAD_REQUEST', 'a copied document needs a positive integer version');
    checkDocumentObject(document.doc, 'a copied document');
    return { table, document, json: JSON.stringify(document.doc) };
  }

  private writeOne(write: ShardWrite): StoredDocument | boolean {
    this.assertOpen();
    const done = this.transaction(() => this.writes.apply(write));
    this.counters.write(done.slot);
    this.wrote(1);
    return done.value;
  }

  /** Keeps planner statistics in step with the data (a bulk load turns a small table into a big one). */
  private wrote(count: number): void {
    this.writesSinceOptimize += count;
    if (this.writesSinceOptimize < OPTIMIZE_EVERY_WRITES) return;
    this.writesSinceOptimize = 0;
    this.db.exec('PRAGMA optimize');
  }

  private statement(sql: string, readBigInts = false): StatementSync {
    let statement = this.statements.get(sql);
    if (!statement) {
      if (this.statements.size >= STATEMENT_CACHE_SIZE) this.statements.delete(this.statements.keys().next().value!);
      statement = this.db.prepare(sql);
      // Query results may hold integers beyond 2^53; read them as bigint rather than fail.
      if (readBigInts) statement.setReadBigInts(true);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  private transaction<T>(work: () => T): T {
    this.begin.run();
    try {
      const result = work();
      this.commit.run();
      return result;
    } catch (err) {
      this.rollback.run();
      this.changes.refresh();
      throw err;
    }
  }

  private assertOpen(): void {
    if (!this.open) throw new ShoalError('UNAVAILABLE', `shard engine ${this.path} is closed`);
  }
}
