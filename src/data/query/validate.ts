/**
 * The shape of a query, checked before anything touches SQL: a malformed query is a clear
 * BAD_REQUEST naming the offending part, never an SQLite error or a silently different result.
 */
import { z } from 'zod';
import { ShoalError } from '../../core/index.ts';
import { isFieldPath, isSqlName } from './paths.ts';
import type { AggregateOp, Query, Where } from '../types.ts';

export const MAX_LIMIT = 10_000;
const MAX_IN_VALUES = 1000;
const MAX_WHERE_NODES = 500;
const MAX_WHERE_DEPTH = 32;

export interface CheckedQuery {
  mode: 'rows' | 'groups';
  where?: Where;
  orderBy: Array<{ field: string; direction: 'asc' | 'desc' }>;
  /** Rows (or combined groups) returned; MAX_LIMIT when the query gives none. */
  limit: number;
  select?: string[];
  groupBy: string[];
  aggregate: Array<{ name: string; op: AggregateOp; field?: string }>;
}

const fieldPath = z.string().refine(isFieldPath, 'must be a field path of letters, digits and underscores separated by dots');
const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()], { error: 'must be a string, a finite number, a boolean or null' });
const rangeOperand = z.union([z.string(), z.number(), z.boolean()], { error: 'must be a string, a finite number or a boolean' });
const scalarList = z.array(scalar).max(MAX_IN_VALUES);

const conditionSchema = z
  .strictObject({
    eq: scalar.optional(),
    ne: scalar.optional(),
    gt: rangeOperand.optional(),
    gte: rangeOperand.optional(),
    lt: rangeOperand.optional(),
    lte: rangeOperand.optional(),
    in: scalarList.optional(),
    nin: scalarList.optional(),
    prefix: z.string().optional(),
    exists: z.boolean().optional(),
  })
  .refine((condition) => Object.keys(condition).length > 0, 'a condition needs at least one operator');

const aggregateSchema = z.strictObject({
  op: z.enum(['count', 'sum', 'min', 'max', 'avg'], { error: 'must be one of count, sum, min, max, avg' }),
  field: fieldPath.optional(),
});

const querySchema = z.strictObject({
  where: z.record(z.string(), z.unknown()).optional(),
  orderBy: z.array(z.strictObject({ field: fieldPath, direction: z.enum(['asc', 'desc']).optional() })).max(8).optional(),
  limit: z.number().int().min(0).max(MAX_LIMIT, `must be at most ${MAX_LIMIT}`).optional(),
  select: z.array(fieldPath).min(1).max(100).optional(),
  groupBy: z.array(fieldPath).min(1).max(8).optional(),
  aggregate: z.record(z.string(), aggregateSchema).optional(),
});

interface Problem {
  path: string;
  message: string;
}

function malformed(problems: Problem[]): ShoalError {
  const text = problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message)).join('; ');
  return new ShoalError('BAD_REQUEST', `malformed query: ${text}`, { problems });
}

function zodProblems(error: z.ZodError, prefix: string): Problem[] {
  return error.issues.map((issue) => {
    const path = [prefix, ...issue.path.map(String)].filter(Boolean).join('.');
    if (issue.code === 'unrecognized_keys') {
      const what = prefix.startsWith('where') ? 'operator' : 'property';
      return { path, message: `unknown ${what}${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}` };
    }
    return { path, message: issue.message };
  });
}

/** Queries checkQuery produced, so a checked query passed along is not checked twice. */
const checkedQueries = new WeakSet<CheckedQuery>();

function isCheckedQuery(value: unknown): value is CheckedQuery {
  return typeof value === 'object' && value !== null && checkedQueries.has(value as CheckedQuery);
}

/** Validates a query's shape and normalizes it; throws BAD_REQUEST listing every problem found. */
export function checkQuery(query: unknown): CheckedQuery {
  if (isCheckedQuery(query)) return query;
  const parsed = querySchema.safeParse(query ?? {});
  if (!parsed.success) throw malformed(zodProblems(parsed.error, ''));
  const q = parsed.data as Query;
  const problems: Problem[] = [];
  if (q.where !== undefined) checkWhere(q.where, 'where', 0, { nodes: 0 }, problems);

  const aggregate = Object.entries(q.aggregate ?? {}).map(([name, spec]) => ({ name, op: spec.op, field: spec.field }));
  const mode = aggregate.length > 0 ? 'groups' : 'rows';
  for (const agg of aggregate) {
    if (!isSqlName(agg.name)) problems.push({ path: `aggregate.${agg.name}`, message: 'an output name must be letters and digits in words joined by single underscores' });
    if (agg.op !== 'count' && agg.field === undefined) problems.push({ path: `aggregate.${agg.name}`, message: `${agg.op} needs a field` });
  }
  if (q.aggregate !== undefined && aggregate.length === 0) problems.push({ path: 'aggregate', message: 'needs at least one output' });
  const groupBy = q.groupBy ?? [];
  if (groupBy.length > 0 && aggregate.length === 0) problems.push({ path: 'groupBy', message: 'needs aggregate' });
  if (mode === 'groups' && q.select !== undefined) problems.push({ path: 'select', message: 'cannot be combined with aggregate (the output holds the group fields and aggregates)' });
  if (new Set(groupBy).size !== groupBy.length) problems.push({ path: 'groupBy', message: 'names a field twice' });
  for (const agg of aggregate) {
    if (groupBy.includes(agg.name)) problems.push({ path: `aggregate.${agg.name}`, message: 'has the name of a groupBy field' });
  }
  const orderBy = (q.orderBy ?? []).map((o) => ({ field: o.field, direction: o.direction ?? 'asc' }));
  if (mode === 'groups') {
    for (const [i, o] of orderBy.entries()) {
      if (!groupBy.includes(o.field) && !aggregate.some((a) => a.name === o.field)) {
        problems.push({ path: `orderBy.${i}.field`, message: `"${o.field}" is neither a groupBy field nor an aggregate name` });
      }
    }
  }
  if (problems.length > 0) throw malformed(problems);
  const checked: CheckedQuery = { mode, orderBy, limit: q.limit ?? MAX_LIMIT, groupBy, aggregate };
  if (q.where !== undefined) checked.where = q.where;
  if (q.select !== undefined) checked.select = q.select;
  checkedQueries.add(checked);
  return checked;
}

function checkWhere(where: unknown, path: string, depth: number, count: { nodes: number }, problems: Problem[]): void {
  if (++count.nodes > MAX_WHERE_NODES) {
    if (count.nodes === MAX_WHERE_NODES + 1) problems.push({ path: 'where', message: `has more than ${MAX_WHERE_NODES} parts` });
    return;
  }
  if (depth > MAX_WHERE_DEPTH) {
    problems.push({ path, message: `nests deeper than ${MAX_WHERE_DEPTH} levels` });
    return;
  }
  if (where === null || typeof where !== 'object' || Array.isArray(where)) {
    problems.push({ path, message: 'must be an object of field conditions or and/or/not' });
    return;
  }
  for (const [name, value] of Object.entries(where)) {
    const at = `${path}.${name}`;
    if (name === 'and' || name === 'or') {
      if (!Array.isArray(value)) problems.push({ path: at, message: 'must be an array of conditions' });
      else value.forEach((child, i) => checkWhere(child, `${at}.${i}`, depth + 1, count, problems));
    } else if (name === 'not') {
      checkWhere(value, at, depth + 1, count, problems);
    } else if (!isFieldPath(name)) {
      problems.push({ path: at, message: 'is not a field path (letters, digits and underscores separated by dots)' });
    } else if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      const parsed = conditionSchema.safeParse(value);
      if (!parsed.success) problems.push(...zodProblems(parsed.error, at));
    } else {
      const parsed = scalar.safeParse(value);
      if (!parsed.success) problems.push(...zodProblems(parsed.error, at));
    }
  }
}
