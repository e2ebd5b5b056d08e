/**
 * The bodies of the document writes (put, update, delete, increment), each run inside a
 * transaction the engine opens: alone, or many under savepoints in one group commit. A body
 * checks everything it can before its first statement, and records its change-log entry in
 * the same transaction as the change.
 */
import { ShoalError } from '../../core/index.ts';
import { checkDocumentSize } from '../collection.ts';
import { slotOf } from '../slots.ts';
import type { ChangeLog } from './change-log.ts';
import { storedDocument, type CollectionTable } from './collection-table.ts';
import { applyDeltas, checkDeltas, checkDocumentAddress, checkDocumentObject, checkRef, checkSlot, checkVersionMatch, expectedVersion, setPath } from './input-checks.ts';
import type { CollectionSpec, DocumentRef, JsonDocument, ShardWrite, StoredDocument } from '../types.ts';

/** What a write answers, and the slot its counter is charged to. */
export interface WriteDone {
  value: StoredDocument | boolean;
  slot: number;
}

export class DocumentWrites {
  readonly #changes: ChangeLog;
  readonly #table: (collection: unknown) => CollectionTable;

  constructor(changes: ChangeLog, table: (collection: unknown) => CollectionTable) {
    this.#changes = changes;
    this.#table = table;
  }

  apply(write: ShardWrite): WriteDone {
    switch (write?.op) {
      case 'put':
        return this.#put(write);
      case 'update':
        return this.#update(write);
      case 'delete':
        return this.#delete(write);
      case 'increment':
        return this.#increment(write);
      default:
        throw new ShoalError('BAD_REQUEST', `unknown write ${JSON.stringify((write as { op?: unknown } | undefined)?.op)}`);
    }
  }

  #put(w: Extract<ShardWrite, { op: 'put' }>): WriteDone {
    const { collection, ref, slot, doc } = w;
    const table = this.#table(collection);
    checkRef(ref);
    checkSlot(slot);
    checkDocumentObject(doc, 'a document');
    checkDocumentAddress(table.spec, ref, doc);
    const expected = expectedVersion(w.options);
    const json = checkDocumentSize(collection, doc, table.spec.maxDocumentBytes);
    let version: number;
    if (expected === undefined) {
      version = table.upsert(ref.key, ref.id, slot, json);
    } else {
      checkVersionMatch(expected, table.read(ref.key, ref.id)?.version ?? 0, collection, ref);
      version = expected + 1;
      table.write(ref.key, ref.id, slot, version, json);
    }
    this.#changes.record(collection, slot, ref.key, ref.id);
    return { value: storedDocument(ref.key, ref.id, version, json), slot };
  }

  #update(w: Extract<ShardWrite, { op: 'update' }>): WriteDone {
    const { collection, ref, changes } = w;
    const table = this.#table(collection);
    checkRef(ref);
    checkDocumentObject(changes, 'update changes');
    const expected = expectedVersion(w.options);
    const current = table.read(ref.key, ref.id);
    if (!current) throw new ShoalError('NOT_FOUND', `no document ${ref.key}/${ref.id} in collection "${collection}"`, { collection, key: ref.key, id: ref.id });
    checkVersionMatch(expected, current.version, collection, ref);
    const merged: JsonDocument = { ...(JSON.parse(current.doc) as JsonDocument), ...changes };
    checkDocumentAddress(table.spec, ref, merged);
    const json = checkDocumentSize(collection, merged, table.spec.maxDocumentBytes);
    table.write(ref.key, ref.id, current.slot, current.version + 1, json);
    this.#changes.record(collection, current.slot, ref.key, ref.id);
    return { value: storedDocument(ref.key, ref.id, current.version + 1, json), slot: current.slot };
  }

  #delete(w: Extract<ShardWrite, { op: 'delete' }>): WriteDone {
    const { collection, ref } = w;
    const table = this.#table(collection);
    checkRef(ref);
    const expected = expectedVersion(w.options);
    if (expected !== undefined) checkVersionMatch(expected, table.read(ref.key, ref.id)?.version ?? 0, collection, ref);
    const removedFrom = table.remove(ref.key, ref.id);
    if (removedFrom !== undefined) this.#changes.record(collection, removedFrom, ref.key, ref.id);
    return { value: removedFrom !== undefined, slot: removedFrom ?? slotOf(ref.key) };
  }

  #increment(w: Extract<ShardWrite, { op: 'increment' }>): WriteDone {
    const { collection, ref, slot } = w;
    const table = this.#table(collection);
    checkRef(ref);
    checkSlot(slot);
    const entries = checkDeltas(table.spec, w.deltas);
    const current = table.read(ref.key, ref.id);
    const doc = current ? (JSON.parse(current.doc) as JsonDocument) : seedDocument(table.spec, ref);
    applyDeltas(doc, entries);
    const json = checkDocumentSize(collection, doc, table.spec.maxDocumentBytes);
    const version = (current?.version ?? 0) + 1;
    const at = current?.slot ?? slot;
    table.write(ref.key, ref.id, at, version, json);
    this.#changes.record(collection, at, ref.key, ref.id);
    return { value: storedDocument(ref.key, ref.id, version, json), slot: at };
  }
}

/** A new document for an increment: just its address fields. */
function seedDocument(spec: CollectionSpec, ref: DocumentRef): JsonDocument {
  const doc: JsonDocument = {};
  if (spec.keyField !== undefined) setPath(doc, spec.keyField, ref.key);
  if (spec.idField !== undefined) setPath(doc, spec.idField, ref.id);
  return doc;
}
