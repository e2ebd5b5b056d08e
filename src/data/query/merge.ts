/**
 * Router-side merge of shards' answers to one query. Each shard already applied where, orderBy
 * and limit (rows) or returned partial states for every group (groups); merging gives what one
 * database holding all the documents would answer.
 *
 * Rows: a k-way merge of the shards' sorted rows by orderBy, then (_key, _id), up to the limit.
 * Groups: partial states of equal group keys combine (counts and sums add, min and max compare in
 * SQLite's order); then each aggregate is finalized (avg = sum / count, null when no numbers),
 * and the groups are ordered by orderBy, then by group key, and limited.
 *
 * The query may be as written or as checkQuery returned it. Always pass a shard's answer through here, even a single shard's: it strips `_sort`.
 */
import { ShoalError } from '../../core/index.ts';
import { compareText, compareValues } from './compare.ts';
import { checkQuery, type CheckedQuery } from './validate.ts';
import type { JsonDocument, PartialGroup, Query, Scalar, ShardQueryResult } from '../types.ts';

export function mergeShardResults(query: Query | CheckedQuery, results: ShardQueryResult[]): JsonDocument[] {
  const checked = checkQuery(query);
  for (const result of results) {
    if (result.kind !== (checked.mode === 'rows' ? 'rows' : 'groups')) {
      throw new ShoalError('INTERNAL', `a shard answered a ${checked.mode} query with ${result.kind}`);
    }
  }
  if (checked.mode === 'rows') return mergeRows(checked, results.map((r) => (r as { rows: JsonDocument[] }).rows));
  return mergeGroups(checked, results.flatMap((r) => (r as { groups: PartialGroup[] }).groups));
}

function rowComparator(query: CheckedQuery): (a: JsonDocument, b: JsonDocument) => number {
  const signs = query.orderBy.map((o) => (o.direction === 'desc' ? -1 : 1));
  return (a, b) => {
    const sa = a._sort as Scalar[] | undefined;
    const sb = b._sort as Scalar[] | undefined;
    for (let i = 0; i < signs.length; i++) {
      const c = compareValues(sa?.[i], sb?.[i]);
      if (c !== 0) return c * signs[i];
    }
    return compareText(String(a._key), String(b._key)) || compareText(String(a._id), String(b._id));
  };
}

function mergeRows(query: CheckedQuery, lists: JsonDocument[][]): JsonDocument[] {
  const compare = rowComparator(query);
  const heads = new MinHeap<{ list: JsonDocument[]; at: number }>((x, y) => compare(x.list[x.at], y.list[y.at]));
  for (const list of lists) if (list.length > 0) heads.push({ list, at: 0 });
  const out: JsonDocument[] = [];
  while (out.length < query.limit && heads.size > 0) {
    const head = heads.pop()!;
    const row = { ...head.list[head.at] };
    delete row._sort;
    out.push(row);
    if (++head.at < head.list.length) heads.push(head);
  }
  return out;
}

type AggregateState = PartialGroup['values'][string];

function mergeGroups(query: CheckedQuery, partials: PartialGroup[]): JsonDocument[] {
  const combined = new Map<string, PartialGroup>();
  for (const partial of partials) {
    const id = JSON.stringify(partial.group);
    const existing = combined.get(id);
    if (!existing) {
      combined.set(id, { group: partial.group, values: structuredClone(partial.values) });
      continue;
    }
    for (const agg of query.aggregate) combineInto(existing.values[agg.name], partial.values[agg.name]);
  }
  // Without groupBy there is exactly one group, even over no documents (count 0), as in SQL.
  if (query.groupBy.length === 0 && combined.size === 0) {
    const values: PartialGroup['values'] = {};
    for (const agg of query.aggregate) values[agg.name] = { count: 0, sum: null, min: null, max: null };
    combined.set('[]', { group: [], values });
  }
  const rows = [...combined.values()].map((partial) => ({ partial, row: finalizeGroup(query, partial) }));
  const signs = query.orderBy.map((o) => (o.direction === 'desc' ? -1 : 1));
  rows.sort((a, b) => {
    for (let i = 0; i < signs.length; i++) {
      const field = query.orderBy[i].field;
      const c = compareValues(a.row[field], b.row[field]);
      if (c !== 0) return c * signs[i];
    }
    for (let i = 0; i < a.partial.group.length; i++) {
      const c = compareValues(a.partial.group[i], b.partial.group[i]);
      if (c !== 0) return c;
    }
    // Equal in SQLite's order yet distinct groups (true and 1): order by JSON text.
    return compareText(JSON.stringify(a.partial.group), JSON.stringify(b.partial.group));
  });
  return rows.slice(0, query.limit).map((r) => r.row);
}

function combineInto(into: AggregateState, from: AggregateState): void {
  into.count += from.count;
  if (from.sum !== null) into.sum = (into.sum ?? 0) + from.sum;
  if (from.min !== null && (into.min === null || compareValues(from.min, into.min) < 0)) into.min = from.min;
  if (from.max !== null && (into.max === null || compareValues(from.max, into.max) > 0)) into.max = from.max;
}

function finalizeGroup(query: CheckedQuery, partial: PartialGroup): JsonDocument {
  const row: JsonDocument = {};
  query.groupBy.forEach((field, i) => (row[field] = partial.group[i] ?? null));
  for (const agg of query.aggregate) {
    const state = partial.values[agg.name];
    switch (agg.op) {
      case 'count':
        row[agg.name] = state.count;
        break;
      case 'sum':
        row[agg.name] = state.count > 0 ? state.sum : null;
        break;
      case 'avg':
        row[agg.name] = state.count > 0 && state.sum !== null ? state.sum / state.count : null;
        break;
      case 'min':
        row[agg.name] = state.min;
        break;
      case 'max':
        row[agg.name] = state.max;
        break;
    }
  }
  return row;
}

/** Binary min-heap; the merge holds one entry per shard. */
class MinHeap<T> {
  private readonly items: T[] = [];
  private readonly less: (a: T, b: T) => number;

  constructor(compare: (a: T, b: T) => number) {
    this.less = compare;
  }

  get size(): number {
    return this.items.length;
  }

  push(item: T): void {
    const items = this.items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.less(items[i], items[parent]) >= 0) break;
      [items[i], items[parent]] = [items[parent], items[i]];
      i = parent;
    }
  }

  pop(): T | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last !== undefined) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < items.length && this.less(items[left], items[smallest]) < 0) smallest = left;
        if (right < items.length && this.less(items[right], items[smallest]) < 0) smallest = right;
        if (smallest === i) break;
        [items[i], items[smallest]] = [items[smallest], items[i]];
        i = smallest;
      }
    }
    return top;
  }
}
