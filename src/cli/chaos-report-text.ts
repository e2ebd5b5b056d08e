import type { ChaosReport, FaultRecord, OutcomeCounts } from '../cluster/index.ts';

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

function outcomes(c: OutcomeCounts): string {
  return `ok ${c.ok}, failed ${c.failed}, uncertain ${c.uncertain}`;
}

function faultLine(f: FaultRecord): string {
  const what = [f.kind, f.node];
  if (f.forMs !== undefined) what.push(`for ${seconds(f.forMs)}`);
  const outcome = f.outcome === 'injected' ? `(${f.detail})` : `FAILED: ${f.detail}`;
  return `  +${seconds(f.startedMs).padEnd(6)} ${what.join(' ')} ${outcome}`;
}

const indent = (text: string, by: string) =>
  text
    .split('\n')
    .map((line) => by + line)
    .join('\n');

/** `shoal chaos test`'s report for a person: counts, faults, losses, and the verdict with its evidence. */
export function chaosReportText(report: ChaosReport): string {
  const lines: string[] = [];
  const kinds = report.faultKinds.length > 0 ? report.faultKinds.join(',') : 'none';
  lines.push(`chaos test: ${seconds(report.elapsedMs)} of ${report.clients} client(s) on ${report.keysAtATime} key(s) at a time, faults ${kinds}, seed ${report.seed}`);
  const perNode = new Map<string, number>();
  for (const node of Object.values(report.keyNodes)) perNode.set(node, (perNode.get(node) ?? 0) + 1);
  const spread = [...perNode].sort(([a], [b]) => (a < b ? -1 : 1)).map(([node, n]) => `${n} on ${node}`);
  lines.push(`keys: ${report.keys.length} named k*-g*-${report.runId}, in ${report.generations} generation(s)${spread.length > 0 ? ` (${spread.join(', ')})` : ''}`);
  lines.push('');
  lines.push(`operations: ${report.operations.total} (${outcomes(report.operations)})`);
  for (const [kind, c] of Object.entries(report.operations.byKind)) lines.push(`  ${kind.padEnd(10)} ${String(c.total).padStart(6)}  ${outcomes(c)}`);
  const injected = report.faults.filter((f) => f.outcome === 'injected').length;
  lines.push(`faults injected: ${injected}${injected !== report.faults.length ? ` of ${report.faults.length} planned` : ''}`);
  for (const f of report.faults) lines.push(faultLine(f));
  for (const problem of report.healProblems) lines.push(`  could not heal ${problem}`);
  if (report.nodesNotBack.length > 0) lines.push(`  not back when the final reads began: ${report.nodesNotBack.join(', ')}`);
  const read = report.keys.length - report.unreadKeys.length;
  lines.push(`final reads: ${read} of ${report.keys.length} key(s) read back${report.unreadKeys.length > 0 ? `; could not read ${report.unreadKeys.join(', ')}` : ''}`);
  if (report.lostWrites.length === 0) {
    lines.push(`acknowledged writes lost: none${report.lostUnknown.length > 0 ? ` found (undecided: ${report.lostUnknown.join(', ')})` : ''}`);
  } else {
    lines.push(`acknowledged writes lost: ${report.lostWrites.length} key(s)`);
    for (const lost of report.lostWrites) {
      lines.push(`  ${lost.key}: read back ${lost.finalValue === null ? 'absent' : JSON.stringify(lost.finalValue)}; the last acknowledged writes were:`);
      for (const op of lost.lastAcknowledged) lines.push(`    ${op.text}`);
    }
  }
  if (report.linearizable === true) {
    lines.push(`verdict: linearizable (checked in ${report.checkMs} ms)`);
  } else if (report.linearizable === 'unknown') {
    lines.push(`verdict: undecided: the check ran out of budget on ${report.unknownKeys.join(', ')} (try fewer clients or a shorter run)`);
  } else {
    lines.push(`verdict: NOT linearizable: ${report.violations.map((v) => v.key).join(', ')}`);
    for (const v of report.violations) lines.push(indent(v.explanation, '  '));
  }
  lines.push(report.passed ? 'PASS' : 'FAIL');
  return lines.join('\n') + '\n';
}
