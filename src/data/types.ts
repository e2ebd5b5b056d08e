/**
 * Contracts of the sharded document store. Storage (ShardEngine, one per shard replica) and
 * distribution (slot map, router, rebalancer) meet here and nowhere else.
 *
 * Placement: key → slot (hash of the partition key, fixed forever) → shard (the versioned slot
 * map in the coordinator) → replica set of nodes (leader first).
 */
import type { z } from 'zod';

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
}

/** What nodes need to know of a collection: the definition less its functions and schema. */
export interface CollectionSpec {
  name: string;
  /** Field of the partition key, or undefined when computed by a function (stored as `key`). */
  keyField?: string;
  idField?: string;
  indexes: IndexDefinition[];
  group?: string;
  maxDocumentBytes: number;
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

export interface SlotCounters {
  slot: number;
  reads: number;
  writes: number;
}

/**
 * Storage of one shard replica. The rule: a ShardEngine knows nothing of slots' owners, the
 * map or other shards; it stores what it is told and reports what it holds, so it can be
 * SQLite on the node today and PostgreSQL later. Every write is durable when it returns.
 */
export interface ShardEngine {
  /** Creates the collection's table and indexes if missing (idempotent; new indexes are added). */
  ensureCollection(spec: CollectionSpec): void;
  get(collection: string, ref: DocumentRef): StoredDocument | undefined;
  getMany(collection: string, refs: DocumentRef[]): Array<StoredDocument | undefined>;
  /** Upsert (or insert-only with expectVersion 0); CONFLICT on a version mismatch. */
  put(collection: string, ref: DocumentRef, slot: number, doc: JsonDocument, options?: WriteOptions): StoredDocument;
  /** Shallow-merges fields into an existing document; NOT_FOUND if absent. */
  update(collection: string, ref: DocumentRef, changes: JsonDocument, options?: WriteOptions): StoredDocument;
  delete(collection: string, ref: DocumentRef, options?: WriteOptions): boolean;
  /**
   * Many writes in one transaction, durable together when it returns. Each write succeeds or
   * fails on its own (a failed one leaves no trace and does not undo the others); if the
   * commit itself fails, it throws and none is applied.
   */
  writeBatch(writes: readonly ShardWrite[]): ShardWriteResult[];
  /** Adds to numeric fields (creating the document, and missing fields as 0, when absent). */
  increment(collection: string, ref: DocumentRef, slot: number, deltas: Record<string, number>): StoredDocument;
  /** Documents of one partition, by id prefix or within an index's order, after a cursor. */
  scan(collection: string, key: string, options: { idPrefix?: string; index?: string; limit?: number; after?: string }): StoredDocument[];
  /** Runs a query over the given slots (all when absent) and returns rows or partial groups. */
  query(collection: string, query: Query, slots?: readonly number[]): ShardQueryResult;
  /** Every document of a slot, in pages, for copying it elsewhere. */
  exportSlot(slot: number, options: { afterRowId?: number; limit: number }): { documents: Array<StoredDocument & { collection: string }>; lastRowId: number; done: boolean };
  /** Writes copied documents as they are (version kept), replacing what is there. */
  importDocuments(slot: number, documents: Array<StoredDocument & { collection: string }>): void;
  /** Applies changes replayed from another shard (puts and deletes, versions kept). */
  applyChanges(changes: ChangeRecord[]): void;
  /** The change log after seq, for the given slots (empty array = all). */
  changesSince(seq: number, slots: readonly number[], limit: number): ChangeRecord[];
  /** Current end of the change log. */
  lastSeq(): number;
  /** Removes every document of a slot (after it moved away). */
  dropSlot(slot: number): number;
  /** Number of documents per slot held here. */
  slotSizes(): Map<number, number>;
  /** Reads and writes per slot since start, for spotting hot keys. */
  slotCounters(): SlotCounters[];
  close(): void;
}
