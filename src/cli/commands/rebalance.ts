import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { connectCoordinator } from '../../cluster/index.ts';
import { REBALANCE_REQUEST_KEY, rebalanceStatus, type RebalanceProgress, type RebalanceRequest } from '../../data/index.ts';
import { noMorePositionals, parseWith, UsageError, type CommandSpec } from '../args.ts';
import { locateControl } from '../cluster-client.ts';

const PROGRESS_POLL_MS = 250;


export const rebalanceSpec = {
  name: 'rebalance',
  summary: 'spread data slots evenly over the nodes, following the pass with a progress bar',
  usage: '[--no-wait] [--json] [--timeout S] [--control URL] [--dir DIR]',
  flags: {
    'no-wait': { type: 'boolean', default: false, help: 'ask for a pass and return at once' },
    json: { type: 'boolean', default: false, help: 'the outcome as JSON alone on stdout' },
    timeout: { type: 'string', default: '600', value: 'S', help: 'give up following after S seconds (default 600)' },
    control: { type: 'string', value: 'URL', help: 'a control plane elsewhere (its secret in SHOAL_SECRET) instead of --dir' },
  },
  notes: 'Exit codes: 0 balanced, 1 failed or timed out, 2 bad usage.',
} as const satisfies CommandSpec;

/**
 * `shoal rebalance [--dir DIR] [--control URL] [--no-wait] [--json] [--timeout S]`: asks the
 * rebalancer leader for a pass and follows it with a progress bar until the slots are even.
 * Exit codes: 0 balanced, 1 failed or timed out, 2 bad usage.
 */
export async function rebalance(argv: string[], out: (text: string) => void = (t) => process.stdout.write(t)): Promise<number> {
  const { values, positionals } = parseWith(rebalanceSpec, argv);
  noMorePositionals(positionals, 0);
  const timeoutS = Number(values.timeout);
  if (!Number.isFinite(timeoutS) || timeoutS <= 0) throw new UsageError(`--timeout must be a number of seconds, got "${values.timeout}"`);
  const { controlUrl, secret } = await locateControl(values.dir, values.control);
  const coordinator = connectCoordinator({ controlUrl, secret });
  try {
    const request: RebalanceRequest = { id: randomUUID(), requestedAt: Date.now() };
    await coordinator.put(REBALANCE_REQUEST_KEY, request);
    if (values['no-wait']) {
      out(values.json ? JSON.stringify({ requested: request.id }) + '\n' : `rebalance requested (${request.id})\n`);
      return 0;
    }
    const until = Date.now() + timeoutS * 1000;
    const tty = !values.json && process.stdout.isTTY === true;
    let last = '';
    while (Date.now() < until) {
      const status = await rebalanceStatus(coordinator).catch(() => undefined);
      const progress = status?.progress as RebalanceProgress | null | undefined;
      if (progress && progress.handledRequest === request.id && progress.state === 'idle') {
        if (tty) out('\n');
        // This request's own count: the last pass may have run before it (and moved nothing since).
        // A leader that does not count per request says nothing rather than the last pass's number.
        const moves = progress.handledMoves ?? null;
        const docs = progress.handledDocsMoved ?? null;
        const counted = moves === null ? '' : `: ${moves} move(s), ${docs ?? 0} document(s) moved${moves === 0 ? ' (the slots were already even)' : ''}`;
        out(
          values.json
            ? JSON.stringify({ done: true, moves, docsMoved: docs, progress }) + '\n'
            : `balanced${counted}${progress.lostSlots ? `; ${progress.lostSlots} slot(s) were lost with departed nodes` : ''}\n`,
        );
        return 0;
      }
      const line = progressLine(progress, status?.leader);
      if (!values.json && line !== last) {
        out(tty ? `\r${line.padEnd(100)}` : `${line}\n`);
        last = line;
      }
      await sleep(PROGRESS_POLL_MS);
    }
    if (tty) out('\n');
    process.stderr.write(`shoal rebalance: not finished after ${timeoutS} s; it goes on in the background (see shoal status)\n`);
    return 1;
  } finally {
    await coordinator.close();
  }
}

/** One line for a progress bar or `shoal status`: "[#####-----] 3/8 moves, slots 1024-1279 node-1 → node-4 copying (1200 docs)". */
export function progressLine(progress: RebalanceProgress | null | undefined, leader?: unknown): string {
  if (!progress) return leader ? 'waiting for the rebalancer leader' : 'no rebalancer leader yet (no data node running?)';
  if (progress.state === 'idle') return `idle (leader ${progress.leader})${progress.lastError ? `; last error: ${progress.lastError}` : ''}`;
  const width = 20;
  const filled = progress.movesTotal === 0 ? 0 : Math.round((progress.movesDone / progress.movesTotal) * width);
  const bar = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
  const c = progress.current;
  const now = c ? ` slots ${c.first}-${c.last} ${c.fromNode} → ${c.toNode} ${c.phase} (${c.docs} docs, ${Math.round(c.bytes / 1024)} KiB)` : '';
  return `${bar} ${progress.movesDone}/${progress.movesTotal} moves${now}`;
}
