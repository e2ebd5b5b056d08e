/**
 * A checked query → one parameterized SQL statement over a collection's table, and the decoding
 * of its rows into the shard's answer.
 *
 * Rows mode answers `{ ...document or selected fields, _key, _id, _version }` per row, ordered by
 * orderBy then (_key, _id) so that ties, and limits, are deterministic; with orderBy each row also
 * carries `_sort`, the values SQLite sorted by, which mergeShardResults compares and removes.
 * Selected fields come back flat under their path (`{ 'a.b': 1 }`), null when absent.
 *
 * Groups mode answers partial states per group (see PartialGroup); the router combines, orders
 * and limits them, so shards return every group.
 */
import { slotRanges } from '../slots.ts';
import { fieldExpression, jsonPathLiteral } from './paths.ts';
import { compileWhere, type SqlParam } from './where-sql.ts';
import type { CheckedQuery } from './validate.ts';
import type { JsonDocument, PartialGroup, Scalar, ShardQueryResult } from '../types.ts';

/** Up to this many slot ranges are tested as BETWEENs on the row; more go through a lookup list. */
const MAX_RANGE_TERMS = 16;

export interface CompiledQuery {
  sql: string;
  params: SqlParam[];
  /** The same statement kept off every index: a full scan, for filters that match most rows. */
  scanSql: string;
  /** The filter alone (empty without one), to count what it matches. */
  where: { sql: string; params: SqlParam[] };
  decode(rows: Array<Record<string, unknown>>): ShardQueryResult;
}

export function compileQuery(table: string, query: CheckedQuery, slots?: readonly number[]): CompiledQuery {
  const params: SqlParam[] = [];
  const filters: string[] = [];
  if (slots !== undefined) filters.push(slotFilter(slots, params));
  if (query.where !== undefined) filters.push(compileWhere(query.where, params));
  const whereSql = filters.length > 0 ? ` WHERE ${filters.join(' AND ')}` : '';
  const where = { sql: whereSql, params: [...params] };
  const compiled = query.mode === 'rows' ? compileRows(query, whereSql, params) : compileGroups(query, whereSql, params);
  return { ...compiled, sql: compiled.sql(table), scanSql: compiled.sql(`${table} NOT INDEXED`), where };
}

/**
 * One slot goes through the slot index. Several are tested on each row (unary + keeps them
 * from steering the planner away from a field index), as ranges while they are few, since
 * shards hold slots in runs.
 */
function slotFilter(slots: readonly number[], params: SqlParam[]): string {
  if (slots.length === 1) {
    params.push(slots[0]);
    return 'slot = ?';
  }
  const ranges = slotRanges(slots);
  if (ranges.length > MAX_RANGE_TERMS) {
    params.push(JSON.stringify(slots));
    return '+slot IN (SELECT value FROM json_each(?))';
  }
  if (ranges.length === 0) return '0';
  for (const [first, last] of ranges) params.push(first, last);
  return `(${ranges.map(() => '+slot BETWEEN ? AND ?').join(' OR ')})`;
}


/** A compiled statement whose FROM is filled in later (the table, or the table barred from indexes). */
interface Compiled {
  sql: (from: string) => string;
  params: SqlParam[];
  decode(rows: Array<Record<string, unknown>>): ShardQueryResult;
}

function compileRows(query: CheckedQuery, whereSql: string, params: SqlParam[]): Compiled {
  const docSql = query.select
    ? `json_object(${query.select.map((path) => `'${path}', doc -> ${jsonPathLiteral(path)}`).join(', ')})`
    : 'json(doc)';
  const sortSql = query.orderBy.map((o, i) => `, ${fieldExpression(o.field)} AS s${i}`).join('');
  const orderSql = [...query.orderBy.map((o) => `${fieldExpression(o.field)} ${o.direction === 'desc' ? 'DESC' : 'ASC'}`), 'key', 'id'].join(', ');
  const sql = (from: string) => `SELECT key, id, version, ${docSql} AS doc${sortSql} FROM ${from}${whereSql} ORDER BY ${orderSql} LIMIT ?`;
  params.push(query.limit);
  const sortCount = query.orderBy.length;
  return {
    sql,
    params,
    decode(rows) {
      return {
        kind: 'rows',
        rows: rows.map((row) => {
          const out: JsonDocument = JSON.parse(row.doc as string);
          out._key = row.key;
          out._id = row.id;
          out._version = Number(row.version);
          if (sortCount > 0) {
            const sort: Scalar[] = [];
            for (let i = 0; i < sortCount; i++) sort.push(sqlScalar(row[`s${i}`]));
            out._sort = sort;
          }
          return out;
        }),
      };
    },
  };
}

function compileGroups(query: CheckedQuery, whereSql: string, params: SqlParam[]): Compiled {
  // Per row, an inner SELECT reads each field once; the outer one aggregates what it read.
  const inner: string[] = query.groupBy.map((path, i) => `doc -> ${jsonPathLiteral(path)} AS g${i}`);
  const outer: string[] = query.groupBy.map((_, i) => `g${i}`);
  // Each distinct expression is computed once, however many aggregates use it (sum and avg of one field share theirs).
  const named = new Map<string, string>();
  const dedupe = (list: string[], sql: string, alias: string): string => {
    const known = named.get(sql);
    if (known !== undefined) return known;
    named.set(sql, alias);
    list.push(`${sql} AS ${alias}`);
    return alias;
  };
  const names = query.aggregate.map((agg, i) => {
    if (agg.field === undefined) return { count: dedupe(outer, 'count(*)', `c${i}`) };
    const x = fieldExpression(agg.field);
    // Sums and averages take numbers only; SQLite would otherwise read '12' as 12 and 'abc' as 0.
    const numeric = agg.op === 'sum' || agg.op === 'avg';
    const read = numeric ? `CASE WHEN json_type(doc, ${jsonPathLiteral(agg.field)}) IN ('integer', 'real') THEN ${x} END` : x;
    const v = dedupe(inner, read, `v${i}`);
    const count = dedupe(outer, `count(${v})`, `c${i}`);
    if (agg.op === 'count') return { count };
    return { count, value: dedupe(outer, numeric ? `total(${v})` : `${agg.op}(${v})`, `m${i}`) };
  });
  if (inner.length === 0) inner.push('1');
  const groupSql = query.groupBy.length > 0 ? ` GROUP BY ${query.groupBy.map((_, i) => `g${i}`).join(', ')}` : '';
  // LIMIT -1 (no limit) keeps SQLite from flattening the inner SELECT, which would copy its expressions back into every aggregate.
  const sql = (from: string) => `SELECT ${outer.join(', ')} FROM (SELECT ${inner.join(', ')} FROM ${from}${whereSql} LIMIT -1)${groupSql}`;
  return {
    sql,
    params,
    decode(rows) {
      const groups: PartialGroup[] = rows.map((row) => {
        const group = query.groupBy.map((_, i) => (row[`g${i}`] === null ? null : (JSON.parse(row[`g${i}`] as string) as Scalar)));
        const values: PartialGroup['values'] = {};
        query.aggregate.forEach((agg, i) => {
          const count = Number(row[names[i].count]);
          const state = { count, sum: null as number | null, min: null as Scalar, max: null as Scalar };
          const value = names[i].value;
          if (agg.op === 'sum' || agg.op === 'avg') state.sum = count > 0 ? Number(row[value!]) : null;
          else if (agg.op === 'min') state.min = sqlScalar(row[value!]);
          else if (agg.op === 'max') state.max = sqlScalar(row[value!]);
          values[agg.name] = state;
        });
        return { group, values };
      });
      return { kind: 'groups', groups };
    },
  };
}

/** An SQLite result value as a Scalar; integers beyond 2^53 arrive as bigint and are rounded. */
function sqlScalar(value: unknown): Scalar {
  if (typeof value === 'bigint') return Number(value);
  if (value === undefined) return null;
  return value as Scalar;
}
