/**
 * ShardEngine on SQLite (`node:sqlite`): one database file per shard replica, in WAL mode with
 * synchronous=FULL, so a write is durable when its call resolves. Each write is one transaction
 * holding the document change and its change-log entry together, or a part of one shared by a
 * batch (writeBatch), which pays one fsync for many writes.
 *
 * The methods are async only in form: each does all its work when called and returns a settled
 * promise, so a write is committed (and a read answered) before the caller's next line runs.
 * Callers must not rely on that (the contract is async, for drivers across a network); it keeps
 * a group commit and a change-log read as cheap as a direct call.
 */
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { ShoalError } from '../../core/index.ts';
import { compileQuery } from '../query/compile.ts';
import { checkQuery, MAX_LIMIT } from '../query/validate.ts';
import { slotOf } from '../slots.ts';
import { ChangeLog } from './change-log.ts';
import { CollectionCatalog } from './collection-catalog.ts';
import { storedDocument, type CollectionTable } from './collection-table.ts';
import { CATALOG_DDL, PRAGMAS } from './ddl.ts';
import { DocumentWrites } from './document-writes.ts';
import { checkLimit, checkRef, checkSlotList } from './input-checks.ts';
import { QueryPlanner } from './query-plan.ts';
import { scanSql, type ScanOptions } from './scan-sql.ts';
import { ReplicaStore } from './replica-store.ts';
import { SlotCounterTable } from './slot-counters.ts';
import { SlotTransfer, type ExportedDocument, type ExportPage } from './slot-transfer.ts';
import { Transactions } from './transactions.ts';
import type { ClusterConfig, HardState, SnapshotMeta } from '../../consensus/index.ts';
import type { ChangeRecord, CollectionSpec, ReplicaState, ReplicaStep, ShardCommand, ShardCommandResult, DocumentRef, JsonDocument, Query, ShardEngine, ShardQueryResult, ShardWrite, ShardWriteResult, SlotCounters, StoredDocument, WriteOptions } from '../types.ts';

export interface SqliteShardEngineOptions {
  /** Change-log entries kept; older ones are pruned and a catch-up from before them must restart (default 1 000 000). */
  retainChanges?: number;
}

const STATEMENT_CACHE_SIZE = 256;
/** Planner statistics are refreshed (PRAGMA optimize) after this many written documents. */
const OPTIMIZE_EVERY_WRITES = 50_000;

export class SqliteShardEngine implements ShardEngine {
  readonly path: string;
  readonly #db: DatabaseSync;
  readonly #catalog: CollectionCatalog;
  readonly #statements = new Map<string, StatementSync>();
  readonly #changes: ChangeLog;
  readonly #counters = new SlotCounterTable();
  readonly #transactions: Transactions;
  readonly #writes: DocumentWrites;
  readonly #slots: SlotTransfer;
  readonly #replica: ReplicaStore;
  readonly #planner = new QueryPlanner((sql) => this.#statement(sql));
  #open = true;
  #writesSinceOptimize = 0;

  constructor(path: string, options: SqliteShardEngineOptions = {}) {
    this.path = path;
    this.#db = new DatabaseSync(path);
    try {
      for (const pragma of PRAGMAS) this.#db.exec(pragma);
      for (const ddl of CATALOG_DDL) this.#db.exec(ddl);
      this.#changes = new ChangeLog(this.#db, options.retainChanges ?? 1_000_000);
      this.#transactions = new Transactions(this.#db, this.#changes);
      this.#catalog = new CollectionCatalog(this.#db);
      this.#writes = new DocumentWrites(this.#changes, (collection) => this.#table(collection));
      this.#slots = new SlotTransfer(this.#catalog, this.#changes, this.#transactions);
      this.#replica = new ReplicaStore(this.#db);
      // Statistics for tables that lack them or have changed much, as SQLite advises at open.
      this.#db.exec('PRAGMA optimize = 0x10002');
    } catch (err) {
      this.#db.close();
      throw err;
    }
  }

  async ensureCollection(spec: CollectionSpec): Promise<void> {
    this.#assertOpen();
    this.#catalog.ensure(spec, this.#transactions);
    // Cached statements may name indexes that are gone.
    this.#statements.clear();
  }

  async get(collection: string, ref: DocumentRef): Promise<StoredDocument | undefined> {
    return this.#get(this.#table(collection), ref);
  }

  async getMany(collection: string, refs: DocumentRef[]): Promise<Array<StoredDocument | undefined>> {
    const table = this.#table(collection);
    if (!Array.isArray(refs)) throw new ShoalError('BAD_REQUEST', 'refs must be an array');
    refs.forEach(checkRef);
    return refs.map((ref) => this.#get(table, ref));
  }

  async put(collection: string, ref: DocumentRef, slot: number, doc: JsonDocument, options?: WriteOptions): Promise<StoredDocument> {
    return this.#writeOne({ op: 'put', collection, ref, slot, doc, options }) as StoredDocument;
  }

  async update(collection: string, ref: DocumentRef, changes: JsonDocument, options?: WriteOptions): Promise<StoredDocument> {
    return this.#writeOne({ op: 'update', collection, ref, changes, options }) as StoredDocument;
  }

  async delete(collection: string, ref: DocumentRef, options?: WriteOptions): Promise<boolean> {
    return this.#writeOne({ op: 'delete', collection, ref, options }) as boolean;
  }

  async increment(collection: string, ref: DocumentRef, slot: number, deltas: Record<string, number>): Promise<StoredDocument> {
    return this.#writeOne({ op: 'increment', collection, ref, slot, deltas }) as StoredDocument;
  }

  /**
   * Group commit: one transaction, so one fsync, for many writes. Each write runs under its own
   * savepoint, so one that fails (a version conflict, a bad document) is undone alone.
   */
  async writeBatch(writes: readonly ShardWrite[]): Promise<ShardWriteResult[]> {
    this.#assertOpen();
    if (!Array.isArray(writes)) throw new ShoalError('BAD_REQUEST', 'writes must be an array');
    const results: ShardWriteResult[] = [];
    const touched: number[] = [];
    this.#transactions.run(() => {
      for (const write of writes) {
        const done = this.#transactions.attempt(() => this.#writes.apply(write));
        if (done.ok) {
          results.push({ ok: true, value: done.value.value });
          touched.push(done.value.slot);
        } else {
          results.push({ ok: false, error: done.error });
        }
      }
    });
    for (const slot of touched) this.#counters.write(slot);
    this.#wrote(touched.length);
    return results;
  }

  async scan(collection: string, key: string, options: ScanOptions): Promise<StoredDocument[]> {
    const table = this.#table(collection);
    if (typeof key !== 'string' || key === '') throw new ShoalError('BAD_REQUEST', 'scan needs a non-empty partition key');
    const limit = checkLimit(options?.limit, 100, MAX_LIMIT, 'scan limit');
    const { sql, params } = scanSql(this.#db, table.table, table.spec, key, options ?? {}, limit);
    const rows = this.#statement(sql).all(...params) as Array<{ key: string; id: string; version: number; doc: string }>;
    this.#counters.read(slotOf(key));
    return rows.map((row) => storedDocument(row.key, row.id, row.version, row.doc));
  }

  async query(collection: string, query: Query, slots?: readonly number[]): Promise<ShardQueryResult> {
    const table = this.#table(collection);
    const checked = checkQuery(query);
    if (slots !== undefined) checkSlotList(slots);
    // Asked for every slot it holds, the shard need not test each row's slot.
    const scope = slots !== undefined && slots.length > 1 && this.#planner.holdsOnly(table.table, slots) ? undefined : slots;
    const compiled = compileQuery(table.table, checked, scope);
    const sql = this.#planner.choose(table.table, compiled);
    const rows = this.#statement(sql, true).all(...compiled.params) as Array<Record<string, unknown>>;
    return compiled.decode(rows);
  }

  async exportSlot(slot: number, options: { afterRowId?: number; limit: number }): Promise<ExportPage> {
    this.#assertOpen();
    return this.#slots.exportSlot(slot, options);
  }

  async importDocuments(slot: number, documents: ExportedDocument[]): Promise<void> {
    this.#assertOpen();
    this.#wrote(this.#slots.importDocuments(slot, documents));
  }

  async applyChanges(changes: ChangeRecord[]): Promise<void> {
    this.#assertOpen();
    this.#slots.applyChanges(changes);
  }

  async changesSince(seq: number, slots: readonly number[], limit: number): Promise<ChangeRecord[]> {
    this.#assertOpen();
    return this.#slots.changesSince(seq, slots, limit);
  }

  async lastSeq(): Promise<number> {
    this.#assertOpen();
    return this.#changes.lastSeq;
  }

  /** Drops change-log entries before seq, once no slot move needs them; returns how many. */
  async truncateChanges(beforeSeq: number): Promise<number> {
    this.#assertOpen();
    return this.#changes.truncate(beforeSeq);
  }

  async dropSlot(slot: number): Promise<number> {
    this.#assertOpen();
    return this.#slots.dropSlot(slot);
  }

  async loadReplica(): Promise<ReplicaState | undefined> {
    this.#assertOpen();
    return this.#replica.load();
  }

  async replicaStep(step: ReplicaStep): Promise<ShardCommandResult[]> {
    this.#assertOpen();
    if (!Array.isArray(step?.entries) || !Array.isArray(step.committed)) throw new ShoalError('BAD_REQUEST', 'a replica step needs entries and committed arrays');
    const touched: number[] = [];
    // A step that only applies entries already durable in the log need not wait for the disk:
    // lost in a power cut, it is lost with its applied index and replayed from the log. The next
    // step that persists log entries syncs the write-ahead log, this step's work with it.
    const applyOnly = step.hardState === undefined && step.entries.length === 0;
    if (applyOnly) this.#db.exec('PRAGMA synchronous = NORMAL');
    try {
      return this.#step(step, touched);
    } finally {
      if (applyOnly) this.#db.exec('PRAGMA synchronous = FULL');
    }
  }

  #step(step: ReplicaStep, touched: number[]): ShardCommandResult[] {
    const results = this.#transactions.run(() => {
      this.#replica.persist(step.hardState, step.entries);
      let applied = this.#replica.applied();
      const out: ShardCommandResult[] = [];
      for (const entry of step.committed) {
        if (!Number.isSafeInteger(entry?.index) || entry.index <= applied.index) throw new ShoalError('BAD_REQUEST', `entry ${entry?.index} is already applied (applied ${applied.index})`);
        out.push(entry.type === 'command' ? this.#applyCommand(entry.command as ShardCommand, touched) : { kind: 'none' });
        const config: ClusterConfig = entry.type === 'config' ? entry.config : applied.config;
        this.#replica.markApplied(entry, config);
        applied = { index: entry.index, term: entry.term, config };
      }
      return out;
    });
    for (const slot of touched) this.#counters.write(slot);
    this.#wrote(touched.length);
    return results;
  }

  async compactReplicaLog(index: number): Promise<SnapshotMeta> {
    this.#assertOpen();
    return this.#transactions.run(() => this.#replica.compact(index));
  }

  async resetReplica(hardState: HardState): Promise<ReplicaState> {
    this.#assertOpen();
    return this.#transactions.run(() => this.#replica.reset(hardState));
  }

  async copyTo(path: string): Promise<SnapshotMeta> {
    this.#assertOpen();
    // Both run with no await between them, so the copy holds exactly what the meta names.
    const meta = this.#replica.snapshotMeta();
    this.#db.prepare('VACUUM INTO ?').run(path);
    return meta;
  }

  /** One committed command, under a savepoint: a refused one leaves nothing behind, identically on every replica. */
  #applyCommand(command: ShardCommand, touched: number[]): ShardCommandResult {
    const done = this.#transactions.attempt((): ShardCommandResult => {
      switch (command?.kind) {
        case 'writes': {
          if (!Array.isArray(command.writes)) throw new ShoalError('BAD_REQUEST', 'writes must be an array');
          const results = command.writes.map((write) => {
            const one = this.#transactions.attempt(() => this.#writes.apply(write));
            if (!one.ok) return { ok: false as const, error: one.error };
            touched.push(one.value.slot);
            return { ok: true as const, value: one.value.value };
          });
          return { kind: 'writes', results };
        }
        case 'import':
          return { kind: 'count', count: this.#slots.importDocuments(command.slot, command.documents) };
        case 'changes':
          this.#slots.applyChanges(command.changes);
          return { kind: 'count', count: Array.isArray(command.changes) ? command.changes.length : 0 };
        case 'drop': {
          let count = 0;
          if (!Number.isInteger(command.first) || !Number.isInteger(command.last) || command.last < command.first) throw new ShoalError('BAD_REQUEST', 'drop needs a slot range');
          for (let slot = command.first; slot <= command.last; slot++) count += this.#slots.dropSlot(slot);
          return { kind: 'count', count };
        }
        default:
          throw new ShoalError('BAD_REQUEST', `unknown shard command ${JSON.stringify((command as { kind?: unknown })?.kind)}`);
      }
    });
    return done.ok ? done.value : { kind: 'refused', error: done.error };
  }

  async slotSizes(): Promise<Map<number, number>> {
    this.#assertOpen();
    return this.#slots.slotSizes();
  }

  async slotCounters(): Promise<SlotCounters[]> {
    this.#assertOpen();
    return this.#counters.list();
  }

  async close(): Promise<void> {
    if (!this.#open) return;
    this.#open = false;
    this.#db.close();
  }

  #get(table: CollectionTable, ref: DocumentRef): StoredDocument | undefined {
    checkRef(ref);
    const row = table.read(ref.key, ref.id);
    this.#counters.read(row ? row.slot : slotOf(ref.key));
    return row ? storedDocument(ref.key, ref.id, row.version, row.doc) : undefined;
  }

  #table(collection: unknown): CollectionTable {
    this.#assertOpen();
    return this.#catalog.table(collection);
  }

  #writeOne(write: ShardWrite): StoredDocument | boolean {
    this.#assertOpen();
    const done = this.#transactions.run(() => this.#writes.apply(write));
    this.#counters.write(done.slot);
    this.#wrote(1);
    return done.value;
  }

  /** Keeps planner statistics in step with the data (a bulk load turns a small table into a big one). */
  #wrote(count: number): void {
    this.#writesSinceOptimize += count;
    if (this.#writesSinceOptimize < OPTIMIZE_EVERY_WRITES) return;
    this.#writesSinceOptimize = 0;
    this.#db.exec('PRAGMA optimize');
  }

  #statement(sql: string, readBigInts = false): StatementSync {
    let statement = this.#statements.get(sql);
    if (!statement) {
      if (this.#statements.size >= STATEMENT_CACHE_SIZE) this.#statements.delete(this.#statements.keys().next().value!);
      statement = this.#db.prepare(sql);
      // Query results may hold integers beyond 2^53; read them as bigint rather than fail.
      if (readBigInts) statement.setReadBigInts(true);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  #assertOpen(): void {
    if (!this.#open) throw new ShoalError('UNAVAILABLE', `shard engine ${this.path} is closed`);
  }
}
