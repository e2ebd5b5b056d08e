/**
 * Contracts of the sharded document store. Storage (ShardEngine, one per shard replica) and
 * distribution (slot map, router, rebalancer) meet here and nowhere else.
 *
 * Placement: key → slot (hash of the partition key, fixed forever) → shard (the versioned slot
 * map in the coordinator) → replica set of nodes (leader first).
 */
import type { z } from 'zod';
import type { ClusterConfig, HardState, LogEntry, SnapshotMeta } from '../consensus/index.ts';

/** Hash slots: fixed for the life of a cluster, so a key's slot never changes. */
export const SLOT_COUNT = 4096;

export type JsonDocument = Record<string, unknown>;
export type Scalar = string | number | boolean | null;

export interface IndexDefinition {
  /** Index name, unique within the collection. */
  name: string;
  /** Document fields (dotted paths allowed), in index order. */
  fields: string[];
}

export interface CollectionDefinition<Doc extends JsonDocument = JsonDocument> {
  name: string;
  /** Partition key: a field of the document, or a function of it. Documents with one key live together. */
  key: string | ((doc: Doc) => string);
  /**
   * Field naming a document within its partition. Absent: the partition key is the document's
   * identity (one document per key).
   */
  id?: string;
  indexes?: IndexDefinition[];
  /** Validated on every write when present. */
  schema?: z.ZodType<Doc>;
  /** Vertical partitioning: keep this collection on the nodes of this group only. */
  group?: string;
  /** Largest accepted document, JSON-encoded (default 256 KiB). */
  maxDocumentBytes?: number;
  /**
   * When a write is acknowledged: once a majority of the shard's replicas has it durable
   * (`'majority'`, the default: no acknowledged write is lost while a majority survives), or once
   * every replica in the set has it (`'all'`: slower, and a write waits out a dead replica until
   * the set changes, then answers UNAVAILABLE with `details.uncertain`, the write being committed).
   */
  ack?: WriteAck;
}

export type WriteAck = 'majority' | 'all';

/** What nodes need to know of a collection: the definition less its functions and schema. */
export interface CollectionSpec {
  name: string;
  /** Field of the partition key, or undefined when computed by a function (stored as `key`). */
  keyField?: string;
  idField?: string;
  indexes: IndexDefinition[];
  group?: string;
  maxDocumentBytes: number;
  ack?: WriteAck;
}

/** A document's address: its partition key and its id within the partition (id = key when the collection has no id field). */
export interface DocumentRef {
  key: string;
  id: string;
}

export interface StoredDocument {
  key: string;
  id: string;
  /** 1 on insert, +1 on every write; the compare-and-set token for update(). */
  version: number;
  doc: JsonDocument;
}

export interface WriteOptions {
  /** Compare-and-set: fails with CONFLICT unless the stored version equals this (0 = absent). */
  expectVersion?: number;
}

export interface Condition {
  eq?: Scalar;
  ne?: Scalar;
  gt?: Scalar;
  gte?: Scalar;
  lt?: Scalar;
  lte?: Scalar;
  in?: Scalar[];
  nin?: Scalar[];
  /** String prefix match. */
  prefix?: string;
  /** Field present (true) or absent/null (false). */
  exists?: boolean;
}

/** Field conditions (implicitly ANDed), or boolean combinations of them. A plain value means eq. */
export type Where = { and: Where[] } | { or: Where[] } | { not: Where } | { [field: string]: Scalar | Condition };

export type AggregateOp = 'count' | 'sum' | 'min' | 'max' | 'avg';

export interface Query {
  where?: Where;
  orderBy?: Array<{ field: string; direction?: 'asc' | 'desc' }>;
  /** At most 10 000. */
  limit?: number;
  /** Fields to return (default: the whole document). */
  select?: string[];
  groupBy?: string[];
  /** Output name → aggregate; `field` is required except for count. */
  aggregate?: Record<string, { op: AggregateOp; field?: string }>;
}

/**
 * One shard's share of an aggregate query: per group, the partial state that combines
 * associatively (avg travels as sum and count).
 */
export interface PartialGroup {
  group: Scalar[];
  values: Record<string, { count: number; sum: number | null; min: Scalar; max: Scalar }>;
}

export type ShardQueryResult = { kind: 'rows'; rows: JsonDocument[] } | { kind: 'groups'; groups: PartialGroup[] };

/** One change in a shard, in commit order; what a slot move replays to catch up. */
export interface ChangeRecord {
  seq: number;
  collection: string;
  slot: number;
  key: string;
  id: string;
  /** The document after the change, or null for a delete. */
  after: StoredDocument | null;
}

/** One write of a batch: the arguments of put, update, delete or increment. */
export type ShardWrite =
  | { op: 'put'; collection: string; ref: DocumentRef; slot: number; doc: JsonDocument; options?: WriteOptions }
  | { op: 'update'; collection: string; ref: DocumentRef; changes: JsonDocument; options?: WriteOptions }
  | { op: 'delete'; collection: string; ref: DocumentRef; options?: WriteOptions }
  | { op: 'increment'; collection: string; ref: DocumentRef; slot: number; deltas: Record<string, number> };

/** A write's own outcome in a batch: what the single call would have returned (a delete answers whether it removed), or what it would have thrown. */
export type ShardWriteResult = { ok: true; value: StoredDocument | boolean } | { ok: false; error: unknown };

/** A document copied between shards, with the collection it belongs to. */
export type ExportedDocument = StoredDocument & { collection: string };

/**
 * What a shard's replicated log carries: every change to a replica's documents is one of these,
 * applied in log order on every replica, so replicas that applied the same entries hold the
 * same documents (and the same change log).
 */
export type ShardCommand =
  | { kind: 'writes'; writes: ShardWrite[] }
  | { kind: 'import'; slot: number; documents: ExportedDocument[] }
  | { kind: 'changes'; changes: ChangeRecord[] }
  | { kind: 'drop'; first: number; last: number };

/** A command's outcome: per-write results for `writes`, documents touched otherwise, or why it was refused (then it left no trace). */
export type ShardCommandResult = { kind: 'writes'; results: ShardWriteResult[] } | { kind: 'count'; count: number } | { kind: 'refused'; error: unknown } | { kind: 'none' };

/** A replica's consensus state as stored with its documents. */
export interface ReplicaState {
  hardState: HardState;
  /** Where the stored log begins: entries up to snapshot.index are folded into the documents. */
  snapshot: SnapshotMeta;
  /** Stored log entries after snapshot.index, in order. */
  entries: LogEntry[];
  /** Highest log index applied to the documents. */
  applied: number;
  /** Configuration as of the applied index. */
  appliedConfig: ClusterConfig;
}

/** One durable step of a replica (see ShardEngine.replicaStep). */
export interface ReplicaStep {
  hardState?: HardState;
  /** New entries; stored entries from entries[0].index on are replaced. */
  entries: readonly LogEntry[];
  /** Committed entries to apply, in order, each above the applied index. */
  committed: readonly LogEntry[];
}

export interface SlotCounters {
  slot: number;
  reads: number;
  writes: number;
}

/**
 * Storage of one shard replica. The rule: a ShardEngine knows nothing of slots' owners, the
 * map or other shards; it stores what it is told and reports what it holds, so it can be
 * SQLite on the node today and PostgreSQL later. Every method is async so that a driver may
 * sit across a network; callers never rely on an effect before its promise settles.
 *
 * What callers may assume:
 * - A resolved write is durable: it survives close, a crash and reopen. A rejected write left
 *   no trace (no document change, no change-log entry).
 * - writeBatch answers one result per write, in the order given, each what the single call
 *   would have answered.
 * - The change log holds one entry per applied document change, in commit order, with
 *   strictly increasing seq; changesSince answers in seq order, and a change committed after
 *   lastSeq() resolved gets a larger seq. Replaying it in order converges on the current state.
 * - Every failure is a rejected promise (never a synchronous throw) with a ShoalError:
 *   BAD_REQUEST for malformed input, NOT_FOUND for an unknown collection or an update of an
 *   absent document, CONFLICT for a version mismatch or a change log pruned past the reader,
 *   PAYLOAD_TOO_LARGE for a document over the collection's maxDocumentBytes, UNAVAILABLE when
 *   the engine is closed or its backend unreachable.
 *
 * What drivers must never do: resolve a write before it is durable, hold a document in memory
 * only, apply part of one write or leave a failed batch write partly applied, reorder the
 * change log or let an entry appear below a seq already reported, or trust their input (an
 * engine sits behind RPC: it checks every argument before it starts a transaction).
 */
export interface ShardEngine {
  // Collections

  /** Creates the collection's table and indexes if missing (idempotent; new indexes are added, dropped ones removed). */
  ensureCollection(spec: CollectionSpec): Promise<void>;

  // Documents

  /** The document at ref, or undefined when absent. Counts a read of its slot. */
  get(collection: string, ref: DocumentRef): Promise<StoredDocument | undefined>;
  /** get for each ref, answers in the order of refs. */
  getMany(collection: string, refs: DocumentRef[]): Promise<Array<StoredDocument | undefined>>;
  /** Upsert (or insert-only with expectVersion 0); CONFLICT on a version mismatch. The document must carry its ref's key and id fields. */
  put(collection: string, ref: DocumentRef, slot: number, doc: JsonDocument, options?: WriteOptions): Promise<StoredDocument>;
  /** Shallow-merges fields into an existing document; NOT_FOUND if absent, PAYLOAD_TOO_LARGE if the merged document is over the limit. */
  update(collection: string, ref: DocumentRef, changes: JsonDocument, options?: WriteOptions): Promise<StoredDocument>;
  /** Removes the document; answers whether there was one. CONFLICT on a version mismatch. */
  delete(collection: string, ref: DocumentRef, options?: WriteOptions): Promise<boolean>;
  /** Adds to numeric fields (creating the document, and missing fields as 0, when absent); BAD_REQUEST for a non-numeric field or the key or id field. */
  increment(collection: string, ref: DocumentRef, slot: number, deltas: Record<string, number>): Promise<StoredDocument>;
  /**
   * Many writes in one transaction, durable together when it resolves: what group commit
   * builds on, one fsync (or round trip) for many writes. Each write succeeds or fails on its
   * own (a failed one leaves no trace and does not undo the others); if the commit itself
   * fails, it rejects and none is applied.
   */
  writeBatch(writes: readonly ShardWrite[]): Promise<ShardWriteResult[]>;

  // Reads across documents

  /** Documents of one partition, by id prefix or within an index's order, after a cursor (an id). */
  scan(collection: string, key: string, options: { idPrefix?: string; index?: string; limit?: number; after?: string }): Promise<StoredDocument[]>;
  /**
   * Runs a query over the given slots (all when absent; none when empty) and returns rows or
   * partial groups, ordered and compared as SQLite does (see query/compare.ts), so that every
   * driver's answers merge alike.
   */
  query(collection: string, query: Query, slots?: readonly number[]): Promise<ShardQueryResult>;

  // Slot moves

  /** Every document of a slot, in pages, for copying it elsewhere; pass the previous page's lastRowId to go on. */
  exportSlot(slot: number, options: { afterRowId?: number; limit: number }): Promise<{ documents: Array<StoredDocument & { collection: string }>; lastRowId: number; done: boolean }>;
  /** Writes copied documents as they are (version kept), replacing what is there; all or none. Logged in the change log. */
  importDocuments(slot: number, documents: Array<StoredDocument & { collection: string }>): Promise<void>;
  /** Applies changes replayed from another shard (puts and deletes, versions kept), all or none, logging each. */
  applyChanges(changes: ChangeRecord[]): Promise<void>;
  /** The change log after seq, for the given slots (empty array = all), in seq order; CONFLICT when entries after seq were pruned. */
  changesSince(seq: number, slots: readonly number[], limit: number): Promise<ChangeRecord[]>;
  /** Current end of the change log (0 when empty): every change committed so far has a seq at most this. */
  lastSeq(): Promise<number>;
  /** Removes every document of a slot (after it moved away), logging each removal; answers how many. */
  dropSlot(slot: number): Promise<number>;

  // Replication

  /** The stored consensus state, or undefined when this store has never taken a replica step. */
  loadReplica(): Promise<ReplicaState | undefined>;
  /**
   * In one transaction: stores the hard state and new log entries, applies each committed
   * entry (a ShardCommand, or a config or noop that only moves the applied index) and records
   * the applied index, so a crash never leaves a command applied without its index or the
   * reverse. A command the engine refuses (bad input) is answered as refused and leaves no
   * trace, on every replica alike. Answers one result per committed entry.
   */
  replicaStep(step: ReplicaStep): Promise<ShardCommandResult[]>;
  /** Drops stored log entries through index (at most the applied index): they are in the documents now. */
  compactReplicaLog(index: number): Promise<SnapshotMeta>;
  /** After this store was replaced by a copy of another replica: forget the copied log, keep the documents, take this replica's hard state. */
  resetReplica(hardState: HardState): Promise<ReplicaState>;
  /** Writes a consistent copy of the whole store (documents, change log, applied index) to path; answers where in the log it stands. */
  copyTo(path: string): Promise<SnapshotMeta>;

  // Statistics and lifecycle

  /** Number of documents per slot held here (slots holding none are absent). */
  slotSizes(): Promise<Map<number, number>>;
  /** Reads and writes per slot since the engine opened, for spotting hot keys. */
  slotCounters(): Promise<SlotCounters[]>;
  /** Releases the engine; idempotent. Calls after it reject with UNAVAILABLE. */
  close(): Promise<void>;
}
