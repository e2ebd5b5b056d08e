/**
 * The SQLite layout of a shard replica: a catalog of collections, a shard-wide change log and
 * one table per collection. Names derive from checked collection and index names (see
 * paths.ts), which cannot contain quotes and cannot collide once prefixed.
 */
import { fieldExpression } from '../query/paths.ts';
import type { CollectionSpec, IndexDefinition } from '../types.ts';

export const PRAGMAS = [
  'PRAGMA journal_mode = WAL',
  // FULL: a write is on disk when its transaction commits, so an acknowledged write survives power loss.
  'PRAGMA synchronous = FULL',
  'PRAGMA busy_timeout = 5000',
  'PRAGMA cache_size = -32768',
  'PRAGMA temp_store = MEMORY',
  // ANALYZE (run by PRAGMA optimize) samples this many rows per index, so it stays a few milliseconds.
  'PRAGMA analysis_limit = 1000',
];

export const CATALOG_DDL = [
  `CREATE TABLE IF NOT EXISTS _collections (
     ordinal INTEGER PRIMARY KEY AUTOINCREMENT,
     name TEXT NOT NULL UNIQUE,
     spec TEXT NOT NULL)`,
  // The log names what changed; readers take the document as it is now (see ChangeLog).
  `CREATE TABLE IF NOT EXISTS _changes (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     collection TEXT NOT NULL,
     slot INTEGER NOT NULL,
     key TEXT NOT NULL,
     id TEXT NOT NULL)`,
];

export function tableName(collection: string): string {
  return `"c_${collection}"`;
}

function slotIndexName(collection: string): string {
  return `"c_${collection}__slot"`;
}

/** Prefix of the SQL names of a collection's declared indexes. */
export function declaredIndexPrefix(collection: string): string {
  return `c_${collection}__ix_`;
}

export function createTableDdl(collection: string): string[] {
  const table = tableName(collection);
  return [
    `CREATE TABLE IF NOT EXISTS ${table} (
       key TEXT NOT NULL,
       id TEXT NOT NULL,
       slot INTEGER NOT NULL,
       version INTEGER NOT NULL,
       doc TEXT NOT NULL,
       PRIMARY KEY (key, id))`,
    `CREATE INDEX IF NOT EXISTS ${slotIndexName(collection)} ON ${table} (slot)`,
  ];
}

/** A declared index as an expression index: the planner uses it when a query reads the same json_extract. */
export function createIndexDdl(collection: string, index: IndexDefinition): string {
  const columns = index.fields.map((field) => fieldExpression(field)).join(', ');
  return `CREATE INDEX IF NOT EXISTS "${declaredIndexPrefix(collection)}${index.name}" ON ${tableName(collection)} (${columns})`;
}

export function dropIndexDdl(sqlIndexName: string): string {
  return `DROP INDEX IF EXISTS "${sqlIndexName}"`;
}

/** Declared indexes whose SQL index must be (re)built: new ones and ones whose fields changed. */
export function indexesToBuild(previous: CollectionSpec | undefined, next: CollectionSpec): IndexDefinition[] {
  return next.indexes.filter((index) => {
    const before = previous?.indexes.find((i) => i.name === index.name);
    return !before || before.fields.join('\n') !== index.fields.join('\n');
  });
}
