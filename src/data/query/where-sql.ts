/**
 * Where → SQL over json_extract. User values only ever travel as bound parameters; field paths
 * are checked before they get here (see paths.ts).
 *
 * Semantics, identical on every shard so that merged answers equal one database's:
 * - Conditions are two-valued: an absent or null field fails eq/gt/in… and passes ne/nin/not.
 * - Booleans compare as 1 and 0 (SQLite's JSON functions read them so).
 * - Range operators stay within the operand's type: a number range matches numbers (and
 *   booleans) only, a string range matches strings only.
 */
import { fieldExpression } from './paths.ts';
import type { Condition, Scalar, Where } from '../types.ts';

export type SqlParam = string | number | null;

function toSqlParam(value: Scalar): SqlParam {
  if (typeof value === 'boolean') return value ? 1 : 0;
  return value;
}

/** Compiles a checked where into an SQL boolean expression, appending its parameters. */
export function compileWhere(where: Where, params: SqlParam[]): string {
  const terms: string[] = [];
  for (const [name, value] of Object.entries(where)) {
    if (name === 'and' || name === 'or') {
      const children = (value as Where[]).map((child) => compileWhere(child, params));
      if (children.length === 0) terms.push(name === 'and' ? '1' : '0');
      else terms.push(`(${children.join(name === 'and' ? ' AND ' : ' OR ')})`);
    } else if (name === 'not') {
      // coalesce: NOT over an unknown (NULL) would stay unknown and drop the row.
      terms.push(`NOT coalesce(${compileWhere(value as Where, params)}, 0)`);
    } else if (value !== null && typeof value === 'object') {
      terms.push(...compileCondition(fieldExpression(name), value as Condition, params));
    } else {
      terms.push(...compileCondition(fieldExpression(name), { eq: value as Scalar }, params));
    }
  }
  if (terms.length === 0) return '1';
  return terms.length === 1 ? terms[0] : `(${terms.join(' AND ')})`;
}

function compileCondition(x: string, condition: Condition, params: SqlParam[]): string[] {
  const terms: string[] = [];
  const bind = (value: Scalar): string => {
    params.push(toSqlParam(value));
    return '?';
  };
  if (condition.eq !== undefined) terms.push(condition.eq === null ? `${x} IS NULL` : `${x} = ${bind(condition.eq)}`);
  if (condition.ne !== undefined) terms.push(condition.ne === null ? `${x} IS NOT NULL` : `${x} IS NOT ${bind(condition.ne)}`);
  for (const op of ['gt', 'gte', 'lt', 'lte'] as const) {
    const operand = condition[op];
    if (operand === undefined || operand === null) continue;
    const sqlOp = { gt: '>', gte: '>=', lt: '<', lte: '<=' }[op];
    const upward = op === 'gt' || op === 'gte';
    const bound = `${x} ${sqlOp} ${bind(operand)}`;
    // Every number sorts below '' and every string at or above it.
    if (typeof operand === 'string') terms.push(upward ? bound : `(${bound} AND ${x} >= '')`);
    else terms.push(upward ? `(${bound} AND ${x} < '')` : bound);
  }
  if (condition.in !== undefined) terms.push(inList(x, condition.in, bind));
  if (condition.nin !== undefined) terms.push(`NOT coalesce(${inList(x, condition.nin, bind)}, 0)`);
  if (condition.prefix !== undefined) terms.push(prefixMatch(x, condition.prefix, bind));
  if (condition.exists !== undefined) terms.push(condition.exists ? `${x} IS NOT NULL` : `${x} IS NULL`);
  return terms;
}

function inList(x: string, values: Scalar[], bind: (value: Scalar) => string): string {
  const present = values.filter((v) => v !== null);
  const matchesNull = present.length !== values.length;
  const list = present.length > 0 ? `${x} IN (${present.map(bind).join(', ')})` : '0';
  return matchesNull ? `(${list} OR ${x} IS NULL)` : list;
}

/**
 * Prefix as a range [prefix, successor) so an index on the field serves it; strings are
 * ordered by code point, so the successor bumps the last code point.
 */
export function prefixMatch(x: string, prefix: string, bind: (value: Scalar) => string): string {
  if (prefix === '') return `${x} >= ''`;
  const upper = prefixSuccessor(prefix);
  if (upper !== undefined) return `(${x} >= ${bind(prefix)} AND ${x} < ${bind(upper)})`;
  return `(${x} >= ${bind(prefix)} AND substr(${x}, 1, ${bind([...prefix].length)}) = ${bind(prefix)})`;
}

/** The smallest string above every string that starts with prefix, when one exists. */
export function prefixSuccessor(prefix: string): string | undefined {
  const codePoints = [...prefix];
  const last = codePoints.pop()!.codePointAt(0)!;
  if (last >= 0x10ffff) return undefined;
  const next = last === 0xd7ff ? 0xe000 : last + 1;
  return codePoints.join('') + String.fromCodePoint(next);
}
