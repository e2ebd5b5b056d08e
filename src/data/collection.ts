/**
 * Collections as the application declares them, and the checks every write goes through before
 * it leaves the caller: the partition key and id that address a document, its JSON shape, its
 * size and its schema.
 */
import { ShoalError, validateParams } from '../core/index.ts';
import { assertFieldPath, assertSqlName, readPath } from './query/paths.ts';
import type { CollectionDefinition, CollectionSpec, DocumentRef, IndexDefinition, JsonDocument } from './types.ts';

export const DEFAULT_MAX_DOCUMENT_BYTES = 256 * 1024;
/** Upper bound for maxDocumentBytes: a document travels whole in one RPC frame. */
const LARGEST_MAX_DOCUMENT_BYTES = 16 * 1024 * 1024;
const MAX_JSON_DEPTH = 64;

/** Checks a collection definition once, at declaration, and returns it unchanged. */
export function defineCollection<Doc extends JsonDocument>(def: CollectionDefinition<Doc>): CollectionDefinition<Doc> {
  if (def === null || typeof def !== 'object') throw new ShoalError('BAD_REQUEST', 'a collection definition must be an object');
  assertSqlName(def.name, 'collection name');
  const what = `collection "${def.name}"`;
  if (typeof def.key !== 'function') assertFieldPath(def.key, `${what}: key`);
  if (def.id !== undefined) assertFieldPath(def.id, `${what}: id`);
  checkIndexes(def.indexes ?? [], what);
  if (def.group !== undefined && (typeof def.group !== 'string' || def.group === '')) {
    throw new ShoalError('BAD_REQUEST', `${what}: group must be a non-empty string`);
  }
  const max = def.maxDocumentBytes;
  if (max !== undefined && (!Number.isInteger(max) || max < 2 || max > LARGEST_MAX_DOCUMENT_BYTES)) {
    throw new ShoalError('BAD_REQUEST', `${what}: maxDocumentBytes must be an integer between 2 and ${LARGEST_MAX_DOCUMENT_BYTES}`);
  }
  checkAck(def.ack, what);
  return def;
}

function checkAck(ack: unknown, what: string): void {
  if (ack === undefined || ack === 'majority' || ack === 'all') return;
  if (ack === 'leader') {
    // The log decides a write's result when it commits, so a leader alone cannot answer one sooner.
    throw new ShoalError('BAD_REQUEST', `${what}: ack 'leader' is not available: a write's result is known only once a majority has it; use 'majority' or 'all'`);
  }
  throw new ShoalError('BAD_REQUEST', `${what}: ack must be 'majority' or 'all', got ${JSON.stringify(ack)}`);
}

/** Checks a spec received from elsewhere (nodes get specs, not definitions). */
export function checkCollectionSpec(spec: CollectionSpec): CollectionSpec {
  if (spec === null || typeof spec !== 'object') throw new ShoalError('BAD_REQUEST', 'a collection spec must be an object');
  assertSqlName(spec.name, 'collection name');
  const what = `collection "${spec.name}"`;
  if (spec.keyField !== undefined) assertFieldPath(spec.keyField, `${what}: key`);
  if (spec.idField !== undefined) assertFieldPath(spec.idField, `${what}: id`);
  checkIndexes(spec.indexes ?? [], what);
  checkAck(spec.ack, what);
  const max = spec.maxDocumentBytes;
  if (!Number.isInteger(max) || max < 2 || max > LARGEST_MAX_DOCUMENT_BYTES) {
    throw new ShoalError('BAD_REQUEST', `${what}: maxDocumentBytes must be an integer between 2 and ${LARGEST_MAX_DOCUMENT_BYTES}`);
  }
  return spec;
}

function checkIndexes(indexes: IndexDefinition[], what: string): void {
  if (!Array.isArray(indexes)) throw new ShoalError('BAD_REQUEST', `${what}: indexes must be an array`);
  const names = new Set<string>();
  for (const index of indexes) {
    assertSqlName(index?.name, `${what}: index name`);
    if (names.has(index.name)) throw new ShoalError('BAD_REQUEST', `${what}: index "${index.name}" is declared twice`);
    names.add(index.name);
    if (!Array.isArray(index.fields) || index.fields.length === 0 || index.fields.length > 8) {
      throw new ShoalError('BAD_REQUEST', `${what}: index "${index.name}" needs 1 to 8 fields`);
    }
    for (const field of index.fields) assertFieldPath(field, `${what}: index "${index.name}" field`);
  }
}

/** What nodes need of a collection: no functions, no schema. */
export function collectionSpec<Doc extends JsonDocument>(def: CollectionDefinition<Doc>): CollectionSpec {
  const spec: CollectionSpec = {
    name: def.name,
    indexes: (def.indexes ?? []).map((index) => ({ name: index.name, fields: [...index.fields] })),
    maxDocumentBytes: def.maxDocumentBytes ?? DEFAULT_MAX_DOCUMENT_BYTES,
  };
  if (typeof def.key === 'string') spec.keyField = def.key;
  if (def.id !== undefined) spec.idField = def.id;
  if (def.group !== undefined) spec.group = def.group;
  if (def.ack !== undefined) spec.ack = def.ack;
  return spec;
}

/** A key or id value as stored: non-empty strings, or finite numbers turned into strings. */
export function addressValue(value: unknown, field: string, role: 'partition key' | 'id'): string {
  if (value === undefined || value === null) {
    throw new ShoalError('BAD_REQUEST', `${role} field "${field}" is missing`, { field });
  }
  if (typeof value === 'number') {
    if (Number.isFinite(value)) return String(value);
  } else if (typeof value === 'string') {
    if (value !== '') return value;
    throw new ShoalError('BAD_REQUEST', `${role} field "${field}" must not be empty`, { field });
  }
  throw new ShoalError('BAD_REQUEST', `${role} field "${field}" must be a string or a finite number, got ${describeType(value)}`, { field });
}

export function partitionKeyOf<Doc extends JsonDocument>(def: CollectionDefinition<Doc>, doc: JsonDocument): string {
  if (!isPlainObject(doc)) throw new ShoalError('BAD_REQUEST', `a document of collection "${def.name}" must be a JSON object`);
  if (typeof def.key === 'string') return addressValue(readPath(doc, def.key), def.key, 'partition key');
  let computed: unknown;
  try {
    computed = def.key(doc as Doc);
  } catch (err) {
    throw new ShoalError('BAD_REQUEST', `partition key function of collection "${def.name}" failed: ${err instanceof Error ? err.message : String(err)}`, { field: '(key function)' });
  }
  return addressValue(computed, '(key function)', 'partition key');
}

export function documentRefOf<Doc extends JsonDocument>(def: CollectionDefinition<Doc>, doc: JsonDocument): DocumentRef {
  const key = partitionKeyOf(def, doc);
  const id = def.id === undefined ? key : addressValue(readPath(doc, def.id), def.id, 'id');
  return { key, id };
}

/**
 * Checks a document before a write: a plain JSON object (no undefined, functions, NaN, dates…),
 * within the size limit, and valid against the schema when there is one. Returns the document
 * to store (the schema's output, so defaults and transforms apply).
 */
export function validateDocument<Doc extends JsonDocument>(def: CollectionDefinition<Doc>, doc: unknown): Doc {
  const what = `document of collection "${def.name}"`;
  if (!isPlainObject(doc)) throw new ShoalError('BAD_REQUEST', `a ${what} must be a JSON object, got ${describeType(doc)}`);
  const problem = findNonJson(doc, '', 0);
  if (problem) throw new ShoalError('BAD_REQUEST', `a ${what} must be plain JSON: ${problem.field || '(document)'} ${problem.message}`, { field: problem.field });
  checkDocumentSize(def.name, doc, def.maxDocumentBytes ?? DEFAULT_MAX_DOCUMENT_BYTES);
  if (!def.schema) return doc as Doc;
  try {
    return validateParams(def.schema, doc, what);
  } catch (err) {
    if (err instanceof ShoalError && err.code === 'VALIDATION') {
      const fields = (err.details as { fields: Array<{ field: string }> }).fields;
      throw new ShoalError('VALIDATION', `invalid ${what}: ${fields.map((f) => f.field || '(document)').join(', ')}`, err.details);
    }
    throw err;
  }
}

/** Encodes a document, enforcing the collection's size limit on its JSON form. */
export function checkDocumentSize(collection: string, doc: JsonDocument, maxBytes: number): string {
  const json = JSON.stringify(doc);
  // Cheap bound first: UTF-8 takes at most 3 bytes per UTF-16 code unit.
  if (json.length * 3 > maxBytes && Buffer.byteLength(json) > maxBytes) {
    throw new ShoalError('PAYLOAD_TOO_LARGE', `document of collection "${collection}" is ${Buffer.byteLength(json)} bytes, over the limit of ${maxBytes}`, { limit: maxBytes });
  }
  return json;
}

export function isPlainObject(value: unknown): value is JsonDocument {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function findNonJson(value: unknown, field: string, depth: number): { field: string; message: string } | undefined {
  if (depth > MAX_JSON_DEPTH) return { field, message: `nests deeper than ${MAX_JSON_DEPTH} levels` };
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return undefined;
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : { field, message: 'is not a finite number' };
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const problem = findNonJson(value[i], field ? `${field}.${i}` : String(i), depth + 1);
      if (problem) return problem;
    }
    return undefined;
  }
  if (isPlainObject(value)) {
    for (const [name, child] of Object.entries(value)) {
      const problem = findNonJson(child, field ? `${field}.${name}` : name, depth + 1);
      if (problem) return problem;
    }
    return undefined;
  }
  return { field, message: `is not JSON (${describeType(value)})` };
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return (value as object).constructor?.name ?? 'an object';
  return typeof value;
}
