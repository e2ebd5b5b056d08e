/**
 * The data suite's cross-shard aggregate: the same sales documents loaded into Shoal and one
 * PostgreSQL table, one unrecorded run each, then recorded runs taking turns, and both answers
 * checked against each other. Redis has no query over values and takes no part.
 */
import type { Peer } from './peers.ts';
import type { AggregateMeasured } from './report.ts';
import { AMOUNT_OVER, CATEGORIES, compareGroups, type AggregateRuns } from './workload.ts';

export interface AggregateOutcome {
  aggregates: AggregateMeasured[];
  mismatches: string[];
  /** The line saying the answers agree; empty when they do not or one side is missing. */
  aggCheck: string;
}

const rate = (n: number, ms: number) => `${Math.round(n / (ms / 1000)).toLocaleString('en-US')}/s`;

/** `shoal` is the Shoal client worker; `pg` the PostgreSQL one, when it runs. */
export async function runAggregate(shoal: Peer, pg: Peer | undefined, docs: number, runs: number, concurrency: number): Promise<AggregateOutcome> {
  const aggPeers = pg ? [shoal, pg] : [shoal];
  const mismatches: string[] = [];
  console.log('');
  console.log(
    `aggregate: ${docs.toLocaleString('en-US')} documents { id, category (one of ${CATEGORIES}), amount (0 to 999.99), ts } (BENCH_AGG_DOCS), ` +
      `count / sum / avg of amount per category where amount > ${AMOUNT_OVER}; an index on amount on both sides`,
  );
  const started = performance.now();
  const chunk = 50_000;
  for (let from = 0; from < docs; from += chunk) {
    const to = Math.min(docs, from + chunk);
    await shoal.worker.task('loadSales', { from, to, concurrency });
    process.stdout.write(`\r  load Shoal: ${to.toLocaleString('en-US')} / ${docs.toLocaleString('en-US')} (${rate(to, performance.now() - started)})   `);
  }
  process.stdout.write('\n');
  console.log(`load Shoal: ${docs.toLocaleString('en-US')} documents in ${((performance.now() - started) / 1000).toFixed(1)} s (${rate(docs, performance.now() - started)}), one put per document, ${concurrency} in flight`);
  const stored = await shoal.worker.task<number>('count');
  if (stored !== docs) mismatches.push(`Shoal holds ${stored} sales documents, ${docs} were written`);
  if (pg) {
    const pgStarted = performance.now();
    await pg.worker.task('loadSales', { count: docs });
    console.log(`load PostgreSQL: ${docs.toLocaleString('en-US')} rows in ${((performance.now() - pgStarted) / 1000).toFixed(1)} s (${rate(docs, performance.now() - pgStarted)}), INSERT … SELECT unnest(…) of 10 000 rows, then VACUUM ANALYZE`);
  }

  const answers = new Map<string, AggregateRuns>();
  for (const peer of aggPeers) await peer.worker.task<AggregateRuns>('aggregate', { runs: 1 });
  const aggregates: AggregateMeasured[] = aggPeers.map((peer) => ({ system: peer.system, timesMs: [] }));
  for (let r = 0; r < runs; r++) {
    for (const [i, peer] of aggPeers.entries()) {
      const answer = await peer.worker.task<AggregateRuns>('aggregate', { runs: 1 });
      aggregates[i].timesMs.push(...answer.timesMs);
      answers.set(peer.system, answer);
    }
  }
  for (const a of aggregates) console.log(`  ${a.system} aggregate runs (ms): ${a.timesMs.map((t) => t.toFixed(1)).join(', ')}`);
  const [shoalAnswer, pgAnswer] = [answers.get(shoal.system), pg && answers.get(pg.system)];
  let aggCheck = '';
  if (shoalAnswer && pgAnswer) {
    const problems = compareGroups(shoalAnswer.groups, pgAnswer.groups, [shoal.system, 'postgresql']);
    mismatches.push(...problems);
    const docsSeen = shoalAnswer.groups.reduce((sum, g) => sum + g.n, 0);
    aggCheck = problems.length === 0 ? `answers agree: ${shoalAnswer.groups.length} groups, ${docsSeen.toLocaleString('en-US')} matching documents, same counts, sums and averages within 1e-9 relative` : '';
  }
  return { aggregates, mismatches, aggCheck };
}
