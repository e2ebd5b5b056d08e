/**
 * Checks of what callers hand a shard engine. An engine sits behind RPC, so every argument is
 * checked before a transaction starts: bad input is a clear error and never a partial write.
 */
import { ShoalError } from '../../core/index.ts';
import { addressValue, isPlainObject } from '../collection.ts';
import { isFieldPath, readPath } from '../query/paths.ts';
import { SLOT_COUNT } from '../types.ts';
import type { CollectionSpec, DocumentRef, JsonDocument, WriteOptions } from '../types.ts';

export function checkRef(ref: unknown): DocumentRef {
  const r = ref as DocumentRef | null;
  if (!r || typeof r !== 'object' || typeof r.key !== 'string' || r.key === '' || typeof r.id !== 'string' || r.id === '') {
    throw new ShoalError('BAD_REQUEST', 'a document ref must be { key, id } with non-empty strings');
  }
  return r;
}

export function checkSlot(slot: unknown): number {
  if (!Number.isInteger(slot) || (slot as number) < 0 || (slot as number) >= SLOT_COUNT) {
    throw new ShoalError('BAD_REQUEST', `slot must be an integer in [0, ${SLOT_COUNT}), got ${JSON.stringify(slot)}`);
  }
  return slot as number;
}

export function checkSlotList(slots: unknown): readonly number[] {
  if (!Array.isArray(slots)) throw new ShoalError('BAD_REQUEST', 'slots must be an array');
  for (const slot of slots) checkSlot(slot);
  return slots as number[];
}

export function checkLimit(limit: unknown, fallback: number, max: number, what: string): number {
  if (limit === undefined) return fallback;
  if (!Number.isInteger(limit) || (limit as number) < 1 || (limit as number) > max) {
    throw new ShoalError('BAD_REQUEST', `${what} must be an integer between 1 and ${max}`);
  }
  return limit as number;
}

export function expectedVersion(options: WriteOptions | undefined): number | undefined {
  const expected = options?.expectVersion;
  if (expected === undefined) return undefined;
  if (!Number.isInteger(expected) || expected < 0) throw new ShoalError('BAD_REQUEST', 'expectVersion must be a non-negative integer');
  return expected;
}

export function checkVersionMatch(expected: number | undefined, actual: number, collection: string, ref: DocumentRef): void {
  if (expected === undefined || expected === actual) return;
  const message = expected === 0
    ? `document ${ref.key}/${ref.id} of collection "${collection}" already exists`
    : `version conflict on ${ref.key}/${ref.id} of collection "${collection}": expected ${expected}, stored ${actual === 0 ? 'none' : actual}`;
  throw new ShoalError('CONFLICT', message, { collection, key: ref.key, id: ref.id, expected, actual });
}

export function checkDocumentObject(doc: unknown, what: string): JsonDocument {
  if (!isPlainObject(doc)) throw new ShoalError('BAD_REQUEST', `${what} must be a JSON object`);
  return doc;
}

/** The document's key and id fields must address the ref it is written under. */
export function checkDocumentAddress(spec: CollectionSpec, ref: DocumentRef, doc: JsonDocument): void {
  if (spec.keyField !== undefined) {
    const key = addressValue(readPath(doc, spec.keyField), spec.keyField, 'partition key');
    if (key !== ref.key) throw new ShoalError('BAD_REQUEST', `partition key field "${spec.keyField}" is ${JSON.stringify(key)} but the document is written under key ${JSON.stringify(ref.key)}`, { field: spec.keyField });
  }
  if (spec.idField !== undefined) {
    const id = addressValue(readPath(doc, spec.idField), spec.idField, 'id');
    if (id !== ref.id) throw new ShoalError('BAD_REQUEST', `id field "${spec.idField}" is ${JSON.stringify(id)} but the document is written under id ${JSON.stringify(ref.id)}`, { field: spec.idField });
  } else if (ref.id !== ref.key) {
    throw new ShoalError('BAD_REQUEST', `collection "${spec.name}" has no id field, so a document's id must equal its key`);
  }
}

export function checkDeltas(spec: CollectionSpec, deltas: unknown): Array<[string, number]> {
  if (!isPlainObject(deltas) || Object.keys(deltas).length === 0) throw new ShoalError('BAD_REQUEST', 'increment needs an object of field → number');
  const entries = Object.entries(deltas);
  for (const [field, delta] of entries) {
    if (!isFieldPath(field)) throw new ShoalError('BAD_REQUEST', `increment field ${JSON.stringify(field)} is not a field path`, { field });
    if (typeof delta !== 'number' || !Number.isFinite(delta)) throw new ShoalError('BAD_REQUEST', `increment of "${field}" must be a finite number`, { field });
    if (field === spec.keyField || field === spec.idField) throw new ShoalError('BAD_REQUEST', `cannot increment the key or id field "${field}"`, { field });
  }
  return entries as Array<[string, number]>;
}

/** Adds deltas to numeric fields in place; absent fields count as 0 and absent parents are created. */
export function applyDeltas(doc: JsonDocument, deltas: Array<[string, number]>): void {
  for (const [path, delta] of deltas) {
    const segments = path.split('.');
    let parent: JsonDocument = doc;
    for (const segment of segments.slice(0, -1)) {
      const next = Object.hasOwn(parent, segment) ? parent[segment] : undefined;
      if (next === undefined || next === null) parent = parent[segment] = {};
      else if (isPlainObject(next)) parent = next;
      else throw new ShoalError('BAD_REQUEST', `cannot increment "${path}": "${segment}" is not an object`, { field: path });
    }
    const leaf = segments[segments.length - 1];
    const current = Object.hasOwn(parent, leaf) ? parent[leaf] : undefined;
    if (current !== undefined && current !== null && typeof current !== 'number') {
      throw new ShoalError('BAD_REQUEST', `cannot increment "${path}": it holds a ${typeof current}, not a number`, { field: path });
    }
    const result = ((current as number | null | undefined) ?? 0) + delta;
    if (!Number.isFinite(result)) throw new ShoalError('BAD_REQUEST', `increment of "${path}" overflows`, { field: path });
    parent[leaf] = result;
  }
}

/** Sets a dotted path, creating parent objects; used to seed a document an increment creates. */
export function setPath(doc: JsonDocument, path: string, value: unknown): void {
  const segments = path.split('.');
  let parent = doc;
  for (const segment of segments.slice(0, -1)) {
    if (!isPlainObject(parent[segment])) parent[segment] = {};
    parent = parent[segment] as JsonDocument;
  }
  parent[segments[segments.length - 1]] = value;
}
