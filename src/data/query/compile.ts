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
import { fieldExpression, jsonPathLiteral } from './paths.ts';
import { compileWhere, type SqlParam } from './where-sql.ts';
import type { CheckedQuery } from './validate.ts';
import type { JsonDocument, PartialGroup, Scalar, ShardQueryResult } from '../types.ts';

/**
 * Slot lists longer than this are filtered row by row rather than through the slot index:
 * without statistics SQLite would otherwise prefer the slot index to a field index.
 */
const SLOT_INDEX_THRESHOLD = 1;

export interface CompiledQuery {
  sql: string;
  params: SqlParam[];
  decode(rows: Array<Record<string, unknown>>): ShardQueryResult;
}

export function compileQuery(table: string, query: CheckedQuery, slots?: readonly number[]): CompiledQuery {
  const params: SqlParam[] = [];
  const filters: string[] = [];
  if (slots !== undefined) {
    // Unary + keeps a long slot list from steering the planner away from a field index.
    const column = slots.length > SLOT_INDEX_THRESHOLD ? '+slot' : 'slot';
    filters.push(`${column} IN (SELECT value FROM json_each(?))`);
    params.push(JSON.stringify(slots));
  }
  if (query.where !== undefined) filters.push(compileWhere(query.where, params));
  const whereSql = filters.length > 0 ? ` WHERE ${filters.join(' AND ')}` : '';
  return query.mode === 'rows' ? compileRows(table, query, whereSql, params) : compileGroups(table, query, whereSql, params);
}

function compileRows(table: string, query: CheckedQuery, whereSql: string, params: SqlParam[]): CompiledQuery {
  const docSql = query.select
    ? `json_object(${query.select.map((path) => `'${path}', doc -> ${jsonPathLiteral(path)}`).join(', ')})`
    : 'doc';
  const sortSql = query.orderBy.map((o, i) => `, ${fieldExpression(o.field)} AS s${i}`).join('');
  const orderSql = [...query.orderBy.map((o) => `${fieldExpression(o.field)} ${o.direction === 'desc' ? 'DESC' : 'ASC'}`), 'key', 'id'].join(', ');
  const sql = `SELECT key, id, version, ${docSql} AS doc${sortSql} FROM ${table}${whereSql} ORDER BY ${orderSql} LIMIT ?`;
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

function compileGroups(table: string, query: CheckedQuery, whereSql: string, params: SqlParam[]): CompiledQuery {
  const columns: string[] = query.groupBy.map((path, i) => `doc -> ${jsonPathLiteral(path)} AS g${i}`);
  query.aggregate.forEach((agg, i) => {
    if (agg.op === 'count') {
      columns.push(`count(${agg.field === undefined ? '*' : fieldExpression(agg.field)}) AS c${i}`);
      return;
    }
    const x = fieldExpression(agg.field!);
    if (agg.op === 'sum' || agg.op === 'avg') {
      // Sums and averages take numbers only; SQLite would otherwise read '12' as 12 and 'abc' as 0.
      const numeric = `CASE WHEN json_type(doc, ${jsonPathLiteral(agg.field!)}) IN ('integer', 'real') THEN ${x} END`;
      columns.push(`count(${numeric}) AS c${i}`, `total(${numeric}) AS t${i}`);
    } else {
      columns.push(`count(${x}) AS c${i}`, `${agg.op}(${x}) AS m${i}`);
    }
  });
  const groupSql = query.groupBy.length > 0 ? ` GROUP BY ${query.groupBy.map((_, i) => `g${i}`).join(', ')}` : '';
  const sql = `SELECT ${columns.join(', ')} FROM ${table}${whereSql}${groupSql}`;
  return {
    sql,
    params,
    decode(rows) {
      const groups: PartialGroup[] = rows.map((row) => {
        const group = query.groupBy.map((_, i) => (row[`g${i}`] === null ? null : (JSON.parse(row[`g${i}`] as string) as Scalar)));
        const values: PartialGroup['values'] = {};
        query.aggregate.forEach((agg, i) => {
          const count = Number(row[`c${i}`]);
          const state = { count, sum: null as number | null, min: null as Scalar, max: null as Scalar };
          if (agg.op === 'sum' || agg.op === 'avg') state.sum = count > 0 ? Number(row[`t${i}`]) : null;
          else if (agg.op === 'min') state.min = sqlScalar(row[`m${i}`]);
          else if (agg.op === 'max') state.max = sqlScalar(row[`m${i}`]);
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
