/**
 * Choices SQLite's planner cannot make alone for a shard's part of a query.
 *
 * The slot filter: a shard asked for every slot it holds rows of need not test each row's slot.
 * Whether it holds rows of other slots (a partial copy, or what a move left behind) is checked
 * through the slot index, in the same synchronous call as the query, so it cannot go stale.
 *
 * Index or scan: without value statistics (SQLite here lacks STAT4) the planner takes an index
 * for any range filter on an indexed field, even one matching 90% of the rows, where a plain
 * scan is much faster than visiting nearly every row through the index. A range search is
 * checked first with a capped count of what the filter matches (cheap, and capped so a filter
 * the index cannot answer alone costs a bounded share of the query).
 */
import type { StatementSync } from 'node:sqlite';
import type { CompiledQuery } from '../query/compile.ts';
import { slotRanges } from '../slots.ts';

/** Above this share of the table's rows a range filter runs as a full scan. */
const SCAN_SHARE = 0.25;
/** Tables smaller than this are not worth a second look. */
const MIN_ROWS_TO_CHOOSE = 2_000;
/** Slot lists in more runs than this keep their filter, rather than test every gap. */
const MAX_GAP_RUNS = 64;
const PLAN_CACHE_SIZE = 256;

/** "SEARCH t USING INDEX ix (<expr>>? AND <expr><?)": an index range, not a lookup by key. */
const INDEX_RANGE = /\bSEARCH\b.*\bUSING INDEX\b.*\(([^)]*)\)/;

export class QueryPlanner {
  readonly #statement: (sql: string) => StatementSync;
  /** Per statement: whether SQLite plans it as an index range search. */
  readonly #rangeSearch = new Map<string, boolean>();

  constructor(statement: (sql: string) => StatementSync) {
    this.#statement = statement;
  }

  /** True when the table holds rows of no slot outside `slots`, so filtering by them changes nothing. */
  holdsOnly(table: string, slots: readonly number[]): boolean {
    const runs = slotRanges(slots);
    if (runs.length === 0 || runs.length > MAX_GAP_RUNS) return false;
    const gaps: string[] = [`EXISTS (SELECT 1 FROM ${table} WHERE slot < ?)`];
    const params: number[] = [runs[0][0]];
    for (let i = 1; i < runs.length; i++) {
      gaps.push(`EXISTS (SELECT 1 FROM ${table} WHERE slot > ? AND slot < ?)`);
      params.push(runs[i - 1][1], runs[i][0]);
    }
    gaps.push(`EXISTS (SELECT 1 FROM ${table} WHERE slot > ?)`);
    params.push(runs[runs.length - 1][1]);
    const row = this.#statement(`SELECT ${gaps.join(' OR ')} AS outside`).get(...params) as { outside: number | bigint };
    return Number(row.outside) === 0;
  }

  /** The SQL to run: the compiled statement, or its full-scan twin when its index range would cover most rows. */
  choose(table: string, compiled: CompiledQuery): string {
    if (compiled.where.sql === '' || !this.#isRangeSearch(compiled)) return compiled.sql;
    const total = Number((this.#statement(`SELECT count(*) AS n FROM ${table}`).get() as { n: number | bigint }).n);
    if (total < MIN_ROWS_TO_CHOOSE) return compiled.sql;
    const cap = Math.ceil(total * SCAN_SHARE);
    const probe = this.#statement(`SELECT count(*) AS n FROM (SELECT 1 FROM ${table}${compiled.where.sql} LIMIT ?)`);
    const matched = Number((probe.get(...compiled.where.params, cap) as { n: number | bigint }).n);
    return matched >= cap ? compiled.scanSql : compiled.sql;
  }

  #isRangeSearch(compiled: CompiledQuery): boolean {
    let known = this.#rangeSearch.get(compiled.sql);
    if (known === undefined) {
      const plan = this.#statement(`EXPLAIN QUERY PLAN ${compiled.sql}`).all() as Array<{ detail: string }>;
      known = plan.some((step) => {
        // Expression columns print as "<expr>", whose brackets are no comparison.
        const constraint = INDEX_RANGE.exec(step.detail)?.[1]?.replaceAll('<expr>', 'x');
        return constraint !== undefined && !step.detail.includes('COVERING') && /[<>]/.test(constraint) && !/(^|[^<>!])=/.test(constraint);
      });
      if (this.#rangeSearch.size >= PLAN_CACHE_SIZE) this.#rangeSearch.clear();
      this.#rangeSearch.set(compiled.sql, known);
    }
    return known;
  }
}
