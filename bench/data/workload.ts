/**
 * What every system of the data suite stores and asks, generated the same way in each client
 * process: 1 KiB JSON documents for single-key get and put, and small "sale" documents for the
 * cross-shard aggregate, derived from their number alone so Shoal and PostgreSQL hold the same data.
 */
import type { Query } from '../../src/data/index.ts';

/** Size of a key-value document, JSON-encoded. */
export const DOC_BYTES = 1024;

export const docId = (i: number): string => `doc-${String(i).padStart(7, '0')}`;

const filler = 'x'.repeat(DOC_BYTES);
const docWithoutPad = (id: string, rev: number) => JSON.stringify({ id, rev, pad: '' }).length;

/** A document whose JSON is exactly DOC_BYTES long; `rev` changes on every put so each one writes something new. */
export function makeDoc(id: string, rev: number): { id: string; rev: number; pad: string } {
  return { id, rev, pad: filler.slice(0, Math.max(0, DOC_BYTES - docWithoutPad(id, rev))) };
}

export type KvCase = 'get' | 'put';

/** Uniform random integer in [0, n). */
export const randomIndex = (n: number): number => Math.floor(Math.random() * n);

/** A deterministic number in [0, 1) from (i, salt): the same on every process and run. */
function hashUnit(i: number, salt: number): number {
  let x = (Math.imul(i, 0x9e3779b1) + Math.imul(salt, 0x85ebca6b)) >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return (x >>> 0) / 2 ** 32;
}

export const CATEGORIES = 20;

// A type alias, not an interface: it must be assignable to a JSON document (an index signature).
export type Sale = {
  id: string;
  category: string;
  /** 0.00 to 999.99. */
  amount: number;
  ts: number;
};

export function makeSale(i: number): Sale {
  return {
    id: `sale-${String(i).padStart(7, '0')}`,
    category: `cat-${String(Math.floor(hashUnit(i, 1) * CATEGORIES)).padStart(2, '0')}`,
    amount: Math.floor(hashUnit(i, 2) * 100_000) / 100,
    ts: 1_700_000_000_000 + i * 1000,
  };
}

/** The aggregate both systems answer: per category, over sales above AMOUNT_OVER. */
export const AMOUNT_OVER = 100;

export const shoalAggregate: Query = {
  where: { amount: { gt: AMOUNT_OVER } },
  groupBy: ['category'],
  aggregate: { n: { op: 'count' }, total: { op: 'sum', field: 'amount' }, avg: { op: 'avg', field: 'amount' } },
};

export const pgAggregateSql = 'SELECT category, count(*) AS n, sum(amount) AS total, avg(amount) AS avg FROM bench_sales WHERE amount > $1 GROUP BY category';

/** One group of the aggregate's answer, the same shape from both systems. */
export interface GroupRow {
  category: string;
  n: number;
  total: number;
  avg: number;
}

/** What an aggregate task answers: each run's time and the groups of the last run. */
export interface AggregateRuns {
  timesMs: number[];
  groups: GroupRow[];
}

/** Differences between two answers (empty when they agree: same groups and counts, sums and averages within float tolerance). */
export function compareGroups(a: readonly GroupRow[], b: readonly GroupRow[], names: [string, string]): string[] {
  const problems: string[] = [];
  const byCategory = (rows: readonly GroupRow[]) => new Map(rows.map((r) => [r.category, r]));
  const [ma, mb] = [byCategory(a), byCategory(b)];
  const close = (x: number, y: number) => Math.abs(x - y) <= 1e-9 * Math.max(1, Math.abs(x), Math.abs(y));
  for (const category of new Set([...ma.keys(), ...mb.keys()])) {
    const [ra, rb] = [ma.get(category), mb.get(category)];
    if (!ra || !rb) {
      problems.push(`group ${category} only in ${ra ? names[0] : names[1]}`);
      continue;
    }
    if (ra.n !== rb.n) problems.push(`${category}: count ${names[0]} ${ra.n} vs ${names[1]} ${rb.n}`);
    if (!close(ra.total, rb.total)) problems.push(`${category}: sum ${names[0]} ${ra.total} vs ${names[1]} ${rb.total}`);
    if (!close(ra.avg, rb.avg)) problems.push(`${category}: avg ${names[0]} ${ra.avg} vs ${names[1]} ${rb.avg}`);
  }
  return problems;
}

/** Runs `work` for items [from, to) with `concurrency` loops pulling the next index. */
export async function forEachConcurrently(from: number, to: number, concurrency: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = from;
  const loop = async () => {
    while (next < to) await work(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(0, to - from)) }, loop));
}

