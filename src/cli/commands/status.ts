import type { ClusterStatus } from '../../cluster/index.ts';
import { progressLine } from './rebalance.ts';
import { noMorePositionals, parseWith, type CommandSpec } from '../args.ts';
import { fetchShards, fetchStatus, requireCluster } from '../cluster-client.ts';
import type { ShardReplication } from '../../data/index.ts';
import { explicitPort } from './common.ts';

export const statusSpec = {
  name: 'status',
  summary: 'show every process of the cluster, its health, and the data rebalancer',
  usage: '[--json] [--dir DIR]',
  flags: {
    json: { type: 'boolean', default: false, help: 'the status as JSON alone on stdout, for scripts' },
  },
} as const satisfies CommandSpec;

export async function status(argv: string[]): Promise<number> {
  const { values, positionals } = parseWith(statusSpec, argv);
  noMorePositionals(positionals, 0);
  const location = await requireCluster(values.dir, explicitPort(values.port));
  const current = await fetchStatus(location);
  const data = await fetchShards(location, current.gateway);
  const full = { ...current, shards: data?.shards ?? null, unreachableDataNodes: data?.unreachable ?? [] };
  if (values.json) process.stdout.write(JSON.stringify(full, null, 2) + '\n');
  else process.stdout.write(formatStatus(current) + (data ? formatShards(data.shards, data.unreachable) : ''));
  return 0;
}

/** Per shard: slots, leader and term, each follower with its lag, and whether the set is whole. */
export function formatShards(shards: readonly ShardReplication[], unreachable: readonly string[]): string {
  if (shards.length === 0) return '';
  const header = ['SHARD', 'SLOTS', 'LEADER', 'TERM', 'FOLLOWERS (lag entries/ms)', 'IN SYNC', 'REPLICATION'];
  const rows = [...shards]
    .sort((a, b) => a.id - b.id)
    .map((s) => [
      String(s.id) + (s.placement === '*' ? '' : ` (${s.placement})`),
      String(s.slots),
      s.leader ?? 'none',
      String(s.term),
      s.followers.map((f) => `${f.node}${f.voter ? '' : ' (learner)'} ${f.lagEntries ?? '?'}/${f.lagMs ?? '?'}`).join(', ') || '-',
      `${s.inSync.length}/${s.replicas.length}`,
      s.underReplicated ? 'UNDER-REPLICATED' : 'ok',
    ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const format = (row: string[]) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]))).join('  ') + '\n';
  return '\nshards\n' + format(header) + rows.map(format).join('') + (unreachable.length > 0 ? `not answering: ${unreachable.join(', ')}\n` : '');
}


export function formatStatus(status: ClusterStatus): string {
  // The zone column only where the cluster has zones, so the usual table stays as it was.
  const zoned = status.processes.some((p) => p.zone !== undefined);
  const header = ['ID', 'ROLE', ...(zoned ? ['ZONE'] : []), 'PID', 'ADDRESS', 'HEALTH', 'RESTARTS', 'UP SINCE', 'SERVICES'];
  const rows = status.processes.map((p) => [
    p.id,
    p.role,
    ...(zoned ? [p.zone ?? '-'] : []),
    p.pid === null ? '-' : String(p.pid),
    p.address,
    p.health,
    String(p.restarts),
    p.startedAt === null ? '-' : p.startedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
    p.services.join(', ') || '-',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const format = (row: string[]) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]))).join('  ') + '\n';
  return (
    `cluster ${status.state} (supervisor pid ${status.supervisorPid})\n` +
    `gateway:   ${status.gateway}\n` +
    `dashboard: ${status.dashboard}\n\n` +
    format(header) +
    rows.map(format).join('') +
    (status.rebalance ? `\ndata rebalance: ${progressLine(status.rebalance)}\n` : '')
  );
}
