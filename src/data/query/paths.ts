/**
 * Field paths and SQL names. Paths and collection names end up inside SQL text (a JSON path must
 * be a literal for SQLite to match it against an expression index), so they are checked against
 * strict patterns here and never contain quotes or other metacharacters.
 */
import { ShoalError } from '../../core/index.ts';

/** Dotted path of plain segments: letters, digits and underscores. */
const FIELD_PATH = /^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$/;
/** Underscore-separated words: no leading, trailing or doubled underscores, so derived SQL names cannot collide. */
const SQL_NAME = /^[A-Za-z][A-Za-z0-9]*(_[A-Za-z0-9]+)*$/;
const MAX_PATH_LENGTH = 200;
const MAX_NAME_LENGTH = 64;

export function isFieldPath(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_PATH_LENGTH && FIELD_PATH.test(value);
}

export function isSqlName(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_NAME_LENGTH && SQL_NAME.test(value);
}

export function assertFieldPath(value: unknown, what: string): string {
  if (!isFieldPath(value)) {
    throw new ShoalError('BAD_REQUEST', `${what} must be a field path of letters, digits and underscores separated by dots, got ${JSON.stringify(value)}`);
  }
  return value;
}

export function assertSqlName(value: unknown, what: string): string {
  if (!isSqlName(value)) {
    throw new ShoalError('BAD_REQUEST', `${what} must be letters and digits in words joined by single underscores, starting with a letter (at most ${MAX_NAME_LENGTH} characters), got ${JSON.stringify(value)}`);
  }
  return value;
}

/** SQLite JSON path literal of a checked field path, e.g. 'a.b' → '$.a.b' (quoted for SQL). */
export function jsonPathLiteral(path: string): string {
  return `'$.${path}'`;
}

/** The SQL expression reading a field as an SQL value (booleans as 1/0, objects as JSON text). */
export function fieldExpression(path: string): string {
  return `json_extract(doc, ${jsonPathLiteral(path)})`;
}

/** Reads a dotted path from a parsed document. */
export function readPath(doc: unknown, path: string): unknown {
  let current: unknown = doc;
  for (const segment of path.split('.')) {
    if (current === null || typeof current !== 'object' || Array.isArray(current)) return undefined;
    if (!Object.hasOwn(current, segment)) return undefined;
    current = (current as Record<string, unknown>)[segment];
  }
  return current;
}
