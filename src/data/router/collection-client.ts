import { ShoalError } from '../../core/index.ts';
import { addressValue, documentRefOf, isPlainObject, validateDocument } from '../collection.ts';
import type { CollectionDefinition, DocumentRef, JsonDocument, Query, StoredDocument, WriteOptions } from '../types.ts';
import type { DataRouter, ReadConsistency } from './data-router.ts';

/** A stored document with its type: what reads and writes answer. */
export interface Versioned<Doc extends JsonDocument> extends StoredDocument {
  doc: Doc;
}

/** Names a document: its partition key alone (collections without an id field), or key and id. */
export type DocumentAddress = string | number | DocumentRef;

export interface ScanOptions {
  /** Documents whose id starts with this. */
  idPrefix?: string;
  /** Walk the partition in this index's order. */
  index?: string;
  limit?: number;
  /** Cursor: the id of the last document of the previous page. */
  after?: string;
}

/**
 * Typed operations on one collection. Every write is checked here first (key, JSON shape,
 * size, schema), so a bad document never reaches a shard and nothing is half written.
 */
export class CollectionClient<Doc extends JsonDocument> {
  readonly name: string;
  private readonly router: DataRouter;
  private readonly def: CollectionDefinition;

  constructor(router: DataRouter, def: CollectionDefinition) {
    this.router = router;
    this.def = def;
    this.name = def.name;
  }

  /**
   * The document, from the shard's leader: linearizable (it reflects every write acknowledged
   * before the call). `consistency: 'follower'` reads the nearest replica instead, cheaper and
   * possibly stale by at most the replicas' staleness bound (the election timeout, 1 s by default).
   */
  async get(address: DocumentAddress, options: { consistency?: ReadConsistency } = {}): Promise<Versioned<Doc> | undefined> {
    const ref = this.refOf(address);
    const found = await this.router.single<StoredDocument | null>(this.name, ref.key, 'shardGet', { id: ref.id, ...(options.consistency === 'follower' ? { consistency: 'follower' } : {}) });
    return (found ?? undefined) as Versioned<Doc> | undefined;
  }

  async getMany(addresses: readonly DocumentAddress[]): Promise<Array<Versioned<Doc> | undefined>> {
    return (await this.router.getMany(this.name, addresses.map((a) => this.refOf(a)))) as Array<Versioned<Doc> | undefined>;
  }

  /** Creates or replaces; with expectVersion, only if the stored version matches (CONFLICT otherwise). */
  async put(doc: Doc, options: WriteOptions = {}): Promise<Versioned<Doc>> {
    // The address first: a missing partition key is named as such, not as a schema failure.
    if (isPlainObject(doc)) documentRefOf(this.def, doc);
    const valid = validateDocument(this.def, doc);
    const ref = documentRefOf(this.def, valid);
    return this.router.single(this.name, ref.key, 'shardPut', { id: ref.id, doc: valid, ...versionOption(options) });
  }

  /** Creates; CONFLICT if the document exists. */
  insert(doc: Doc): Promise<Versioned<Doc>> {
    return this.put(doc, { expectVersion: 0 });
  }

  /** Merges fields into an existing document (NOT_FOUND if absent); expectVersion makes it a compare-and-set. */
  async update(address: DocumentAddress, changes: Partial<Doc>, options: WriteOptions = {}): Promise<Versioned<Doc>> {
    const ref = this.refOf(address);
    if (!isPlainObject(changes)) throw new ShoalError('BAD_REQUEST', `changes to a document of "${this.name}" must be a JSON object`);
    const keyField = typeof this.def.key === 'string' ? this.def.key : undefined;
    for (const field of [keyField, this.def.id]) {
      if (field !== undefined && Object.hasOwn(changes, field)) throw new ShoalError('BAD_REQUEST', `update cannot change the document's address field "${field}"`, { field });
    }
    // Checked as a document of its own: JSON only and within the size limit (the node checks the merged result).
    validateDocument({ ...this.def, schema: undefined }, changes);
    return this.router.single(this.name, ref.key, 'shardUpdate', { id: ref.id, changes, ...versionOption(options) });
  }

  async delete(address: DocumentAddress, options: WriteOptions = {}): Promise<boolean> {
    const ref = this.refOf(address);
    const answer = await this.router.single<{ deleted: boolean }>(this.name, ref.key, 'shardDelete', { id: ref.id, ...versionOption(options) });
    return answer.deleted;
  }

  /** Adds to numeric fields, creating the document and missing fields (as 0) when absent. */
  async increment(address: DocumentAddress, deltas: Partial<Record<keyof Doc & string, number>>): Promise<Versioned<Doc>> {
    const ref = this.refOf(address);
    for (const [field, delta] of Object.entries(deltas)) {
      if (typeof delta !== 'number' || !Number.isFinite(delta)) throw new ShoalError('VALIDATION', `increment of "${field}" must be a finite number`, { field });
    }
    return this.router.single(this.name, ref.key, 'shardIncrement', { id: ref.id, deltas });
  }

  /** Documents of one partition, by id prefix or in an index's order. */
  async scan(key: string | number, options: ScanOptions = {}): Promise<Array<Versioned<Doc>>> {
    const k = addressValue(key, typeof this.def.key === 'string' ? this.def.key : '(key)', 'partition key');
    return this.router.single(this.name, k, 'shardScan', { ...options });
  }

  /** Filters, sorts, limits and aggregates across every shard (one shard when the partition key is pinned with eq). */
  query(query: Query = {}): ReturnType<DataRouter['query']> {
    return this.router.query(this.name, query);
  }

  private refOf(address: DocumentAddress): DocumentRef {
    const keyName = typeof this.def.key === 'string' ? this.def.key : '(key)';
    if (typeof address === 'string' || typeof address === 'number') {
      const key = addressValue(address, keyName, 'partition key');
      if (this.def.id !== undefined) throw new ShoalError('BAD_REQUEST', `collection "${this.name}" names documents by key and id: pass { key, id }`);
      return { key, id: key };
    }
    if (!address || typeof address !== 'object') throw new ShoalError('BAD_REQUEST', `a document address of "${this.name}" must be a key or { key, id }`);
    const key = addressValue(address.key, keyName, 'partition key');
    const id = this.def.id === undefined ? key : addressValue(address.id, this.def.id, 'id');
    return { key, id };
  }
}

function versionOption(options: WriteOptions): { expectVersion?: number } {
  if (options.expectVersion === undefined) return {};
  if (!Number.isInteger(options.expectVersion) || options.expectVersion < 0) throw new ShoalError('BAD_REQUEST', 'expectVersion must be a non-negative integer');
  return { expectVersion: options.expectVersion };
}
