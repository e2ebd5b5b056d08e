/**
 * The slot-move side of a shard database: exporting a slot in pages, importing copied
 * documents, reading and replaying the change log, and dropping a slot once it moved. Copies
 * keep their versions, and every change made here is logged like any write, so a shard that
 * received a slot can itself be the source of the next move.
 */
import { ShoalError } from '../../core/index.ts';
import type { ChangeLog } from './change-log.ts';
import type { CollectionCatalog } from './collection-catalog.ts';
import { storedDocument, type CollectionTable } from './collection-table.ts';
import { checkDocumentObject, checkLimit, checkRef, checkSlot, checkSlotList } from './input-checks.ts';
import type { Transactions } from './transactions.ts';
import type { ChangeRecord, ExportedDocument } from '../types.ts';

export type { ExportedDocument };

/** exportSlot's cursor packs (collection ordinal, rowid) into one safe integer. */
const ROWID_SPAN = 2 ** 36;

export interface ExportPage {
  documents: ExportedDocument[];
  lastRowId: number;
  done: boolean;
}

export class SlotTransfer {
  readonly #catalog: CollectionCatalog;
  readonly #changes: ChangeLog;
  readonly #transactions: Transactions;

  constructor(catalog: CollectionCatalog, changes: ChangeLog, transactions: Transactions) {
    this.#catalog = catalog;
    this.#changes = changes;
    this.#transactions = transactions;
  }

  exportSlot(slot: number, options: { afterRowId?: number; limit: number }): ExportPage {
    checkSlot(slot);
    const limit = checkLimit(options?.limit, 1000, 100_000, 'export limit');
    const after = options.afterRowId ?? 0;
    if (!Number.isSafeInteger(after) || after < 0) throw new ShoalError('BAD_REQUEST', 'afterRowId must be a cursor returned by exportSlot');
    const fromOrdinal = Math.floor(after / ROWID_SPAN);
    const documents: ExportedDocument[] = [];
    let lastRowId = after;
    for (const table of this.#catalog.tables()) {
      if (table.ordinal < fromOrdinal) continue;
      const rows = table.exportSlot(slot, table.ordinal === fromOrdinal ? after % ROWID_SPAN : 0, limit - documents.length);
      for (const row of rows) documents.push({ collection: table.name, ...storedDocument(row.key, row.id, row.version, row.doc) });
      if (rows.length > 0) lastRowId = table.ordinal * ROWID_SPAN + rows[rows.length - 1].rowid;
      if (documents.length >= limit) return { documents, lastRowId, done: false };
    }
    return { documents, lastRowId, done: true };
  }

  /** Returns how many documents it wrote. */
  importDocuments(slot: number, documents: ExportedDocument[]): number {
    checkSlot(slot);
    if (!Array.isArray(documents)) throw new ShoalError('BAD_REQUEST', 'documents must be an array');
    // Everything is checked before the transaction starts, so bad input writes nothing.
    const prepared = documents.map((d) => this.#copiedDocument(d));
    this.#transactions.run(() => {
      for (const { table, document, json } of prepared) {
        table.write(document.key, document.id, slot, document.version, json);
        this.#changes.record(table.name, slot, document.key, document.id);
      }
    });
    return prepared.length;
  }

  applyChanges(changes: ChangeRecord[]): void {
    if (!Array.isArray(changes)) throw new ShoalError('BAD_REQUEST', 'changes must be an array');
    const prepared = changes.map((change) => {
      const table = this.#catalog.table(change?.collection);
      checkSlot(change.slot);
      checkRef(change);
      return { change, table, copy: change.after === null ? undefined : this.#copiedDocument({ ...change.after, collection: change.collection }) };
    });
    this.#transactions.run(() => {
      for (const { change, table, copy } of prepared) {
        if (copy) table.write(change.key, change.id, change.slot, copy.document.version, copy.json);
        else table.remove(change.key, change.id);
        this.#changes.record(table.name, change.slot, change.key, change.id);
      }
    });
  }

  changesSince(seq: number, slots: readonly number[], limit: number): ChangeRecord[] {
    if (!Number.isSafeInteger(seq) || seq < 0) throw new ShoalError('BAD_REQUEST', 'seq must be a non-negative integer');
    checkSlotList(slots);
    const max = checkLimit(limit, 1000, 100_000, 'changes limit');
    return this.#changes.since(seq, slots, max).map((entry) => {
      const row = this.#catalog.find(entry.collection)?.read(entry.key, entry.id);
      return { ...entry, after: row ? storedDocument(entry.key, entry.id, row.version, row.doc) : null };
    });
  }

  dropSlot(slot: number): number {
    checkSlot(slot);
    const removed = this.#transactions.run(() => {
      let count = 0;
      for (const table of this.#catalog.tables()) count += table.dropSlot(slot);
      return count;
    });
    // The drop logged its deletes in SQL, past the log's cached end.
    this.#changes.refresh();
    return removed;
  }

  slotSizes(): Map<number, number> {
    const sizes = new Map<number, number>();
    for (const table of this.#catalog.tables()) {
      for (const { slot, n } of table.slotSizes()) sizes.set(slot, (sizes.get(slot) ?? 0) + n);
    }
    return sizes;
  }

  #copiedDocument(document: ExportedDocument): { table: CollectionTable; document: ExportedDocument; json: string } {
    const table = this.#catalog.table(document?.collection);
    checkRef(document);
    if (!Number.isSafeInteger(document.version) || document.version < 1) throw new ShoalError('BAD_REQUEST', 'a copied document needs a positive integer version');
    checkDocumentObject(document.doc, 'a copied document');
    return { table, document, json: JSON.stringify(document.doc) };
  }
}
