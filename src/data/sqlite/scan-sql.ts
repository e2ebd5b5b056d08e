/**
 * SQL for scanning one partition: in id order (the primary key), or in a declared index's order
 * with id breaking ties. The cursor `after` is the id of the last document of the previous
 * page; in index order the engine reads that document's index values to continue after it.
 */
import type { DatabaseSync } from 'node:sqlite';
import { ShoalError } from '../../core/index.ts';
import { fieldExpression } from '../query/paths.ts';
import { prefixMatch, type SqlParam } from '../query/where-sql.ts';
import type { CollectionSpec, Scalar } from '../types.ts';

export interface ScanOptions {
  idPrefix?: string;
  index?: string;
  limit?: number;
  after?: string;
}

export function scanSql(db: DatabaseSync, table: string, spec: CollectionSpec, key: string, options: ScanOptions, limit: number): { sql: string; params: SqlParam[] } {
  const params: SqlParam[] = [key];
  const terms = ['key = ?'];
  const bind = (value: Scalar): string => {
    params.push(value === true ? 1 : value === false ? 0 : value);
    return '?';
  };
  if (options.idPrefix !== undefined) {
    if (typeof options.idPrefix !== 'string') throw new ShoalError('BAD_REQUEST', 'idPrefix must be a string');
    terms.push(prefixMatch('id', options.idPrefix, bind));
  }
  if (options.after !== undefined && typeof options.after !== 'string') throw new ShoalError('BAD_REQUEST', 'after must be the id of the last document of the previous page');
  let order = 'id';
  if (options.index === undefined) {
    if (options.after !== undefined) terms.push(`id > ${bind(options.after)}`);
  } else {
    const index = spec.indexes.find((i) => i.name === options.index);
    if (!index) throw new ShoalError('BAD_REQUEST', `collection "${spec.name}" has no index ${JSON.stringify(options.index)}`);
    const expressions = index.fields.map(fieldExpression);
    order = [...expressions, 'id'].join(', ');
    if (options.after !== undefined) {
      const cursorSql = `SELECT ${expressions.map((e, i) => `${e} AS v${i}`).join(', ')} FROM ${table} WHERE key = ? AND id = ?`;
      const cursor = db.prepare(cursorSql).get(key, options.after) as Record<string, Scalar> | undefined;
      if (!cursor) throw new ShoalError('NOT_FOUND', `scan cursor ${JSON.stringify(options.after)} no longer exists in partition ${JSON.stringify(key)}; restart the scan`);
      terms.push(afterTuple(expressions, expressions.map((_, i) => cursor[`v${i}`]), options.after, bind));
    }
  }
  params.push(limit);
  return { sql: `SELECT key, id, version, json(doc) AS doc FROM ${table} WHERE ${terms.join(' AND ')} ORDER BY ${order} LIMIT ?`, params };
}

/** (e0, e1, …, id) > (v0, v1, …, after) in SQLite's order, where NULL sorts first. */
function afterTuple(expressions: string[], values: Scalar[], afterId: string, bind: (value: Scalar) => string): string {
  // Built outside in, so parameters are bound in the order their placeholders appear.
  const from = (i: number): string => {
    if (i === expressions.length) return `id > ${bind(afterId)}`;
    const e = expressions[i];
    const value = values[i];
    const greater = value === null ? `${e} IS NOT NULL` : `${e} > ${bind(value)}`;
    const equal = value === null ? `${e} IS NULL` : `${e} = ${bind(value)}`;
    return `(${greater} OR (${equal} AND ${from(i + 1)}))`;
  };
  return from(0);
}
