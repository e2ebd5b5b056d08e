import { connect, type ClusterConnection } from '../../cluster/index.ts';
import { parseDuration } from '../../gateway/index.ts';
import { waitForEndpoint } from '../../runtime/index.ts';
import { CliError, noMorePositionals, parseWith, UsageError, type CommandSpec } from '../args.ts';
import { fetchStatus, locateControl, requireCluster } from '../cluster-client.ts';
import { explicitPort } from './common.ts';

export const chaosSpec = {
  name: 'chaos',
  summary: 'inject faults into a running cluster: kill a node, partition it, slow it, heal it',
  usage: 'kill NODE | partition NODE [--from NODE] [--for 10s] | slow NODE --latency 100ms [--jitter 20ms] [--from NODE] [--for 10s] | heal [NODE] | list',
  positionals: [
    { name: 'ACTION', help: 'kill, partition, slow, heal or list' },
    { name: 'NODE', help: 'the node to act on (e.g. node-2)' },
  ],
  flags: {
    from: { type: 'string', value: 'NODE', help: 'cut or slow only the link to this node (default: every peer)' },
    for: { type: 'string', value: 'DURATION', help: 'heal by itself after this long, e.g. 10s (default: until shoal chaos heal)' },
    latency: { type: 'string', value: 'DURATION', help: 'slow: added to each message and to each answer, e.g. 100ms' },
    jitter: { type: 'string', value: 'DURATION', help: 'slow: up to this much more, at random' },
  },
  notes:
    'Partitions and latency are injected in the nodes\' transport (RPC between processes); the coordinator\'s own HTTP traffic is not cut. kill sends SIGKILL; the supervisor restarts the node with backoff.',
} as const satisfies CommandSpec;

/** A duration flag ("100ms", "10s", "1m") in milliseconds, the way `shoal lb` configs write them. */
function durationOption(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = parseDuration(value);
  if (ms === undefined) throw new UsageError(`--${name} must be a duration such as 100ms, 10s or 1m, got "${value}"`);
  if (ms < 1) throw new UsageError(`--${name} must be at least 1ms`);
  return Math.round(ms);
}

const NODE_WAIT_MS = 10_000;
const NODE_JOIN_WAIT_MS = 2_000;

/** Calls a `$node` action on one node, from a member that joins the cluster for the purpose. */
async function onNode(connection: ClusterConnection, node: string, action: string, params: Record<string, unknown>): Promise<unknown> {
  await someNode(connection);
  // The member list is there: a node missing from it gets a moment to join, not the whole wait.
  if (!(await waitForEndpoint(connection.caller.registry, '$node', 1, { node, timeoutMs: NODE_JOIN_WAIT_MS }))) {
    throw new CliError(`no node "${node}" is in the cluster (see shoal status)`);
  }
  return connection.caller.call('$node', 1, action, params, { node });
}

/** Resolves once the member list has arrived (some node serves `$node`). */
async function someNode(connection: ClusterConnection): Promise<void> {
  if (!(await waitForEndpoint(connection.caller.registry, '$node', 1, { timeoutMs: NODE_WAIT_MS }))) {
    throw new CliError('no node is in the cluster (see shoal status)');
  }
}

function servesNode(connection: ClusterConnection, id: string): boolean {
  return connection.caller.registry.endpoints('$node', 1).some((e) => e.id === id);
}

/** The nodes and gateways other than `node` (and than this command's own member). */
function peersOf(connection: ClusterConnection, node: string): string[] {
  return connection.caller.registry
    .liveMembers()
    .filter((m) => m.id !== node && m.id !== connection.nodeId && (m.role === 'node' || m.role === 'gateway'))
    .map((m) => m.id)
    .sort();
}

function describeFault(fault: Record<string, unknown>): string {
  const parts = [`peer ${String(fault.peer)}`];
  if (fault.partition) parts.push(`partition ${String(fault.partition)}`);
  if (fault.latencyMs !== undefined) parts.push(`latency ${String(fault.latencyMs)}ms${fault.jitterMs ? ` +${String(fault.jitterMs)}ms` : ''}`);
  if (fault.dropRate !== undefined) parts.push(`drop ${String(fault.dropRate)}`);
  if (fault.forMs !== undefined) parts.push(`for ${String(fault.forMs)}ms`);
  return parts.join(', ');
}

/** `shoal chaos …`: faults on demand against a cluster this machine runs. */
export async function chaos(argv: string[]): Promise<number> {
  const { values, positionals } = parseWith(chaosSpec, argv);
  noMorePositionals(positionals, 2);
  const [what, node] = positionals;
  if (what === undefined) throw new UsageError('chaos needs an action: kill, partition, slow, heal or list');
  const needsNode = what === 'kill' || what === 'partition' || what === 'slow';
  if (needsNode && node === undefined) throw new UsageError(`chaos ${what} needs a NODE, e.g. shoal chaos ${what} node-2`);
  const forMs = durationOption('for', values.for);

  if (what === 'kill') {
    const status = await fetchStatus(await requireCluster(values.dir, explicitPort(values.port)));
    const target = status.processes.find((p) => p.id === node);
    if (!target) throw new CliError(`no process "${node}" in the cluster (see shoal status)`);
    if (target.pid === null) throw new CliError(`${node} is not running right now`);
    process.kill(target.pid, 'SIGKILL');
    process.stdout.write(`killed ${node} (pid ${target.pid}) with SIGKILL; the supervisor restarts it\n`);
    return 0;
  }
  if (!['partition', 'slow', 'heal', 'list'].includes(what)) throw new UsageError(`unknown chaos action "${what}": kill, partition, slow, heal or list`);

  const { controlUrl, secret } = await locateControl(values.dir);
  const connection = await connect({ controlUrl, secret, clientId: `chaos-${process.pid}` });
  try {
    if (what === 'partition') {
      // Refused rather than dropped: a caller that cannot be cut itself (a gateway) fails over at once.
      const fault = { partition: 'both', reject: true, ...(forMs ? { forMs } : {}) };
      await someNode(connection);
      // Each peer by name rather than '*': this command's own member must still reach the node to heal it.
      const peers = values.from !== undefined ? [values.from] : peersOf(connection, node!);
      for (const peer of peers) {
        await onNode(connection, node!, 'setFault', { peer, ...fault });
        // Both ends of one link where the other end takes faults (a node; a gateway is refused instead).
        if (servesNode(connection, peer)) await onNode(connection, peer, 'setFault', { peer: node!, ...fault });
      }
      process.stdout.write(`partitioned ${node} from ${peers.join(', ') || 'nobody (it has no peers)'}${forMs ? ` for ${forMs} ms` : ' until shoal chaos heal'}\n`);
    } else if (what === 'slow') {
      const latencyMs = durationOption('latency', values.latency);
      if (latencyMs === undefined) throw new UsageError('chaos slow needs --latency, e.g. --latency 100ms');
      const jitterMs = durationOption('jitter', values.jitter);
      await onNode(connection, node!, 'setFault', { peer: values.from ?? '*', latencyMs, ...(jitterMs ? { jitterMs } : {}), ...(forMs ? { forMs } : {}) });
      process.stdout.write(`slowed ${node}'s traffic to ${values.from ?? 'every peer'} by ${latencyMs} ms${forMs ? ` for ${forMs} ms` : ''}\n`);
    } else {
      if (node === undefined) await someNode(connection);
      const nodes = node !== undefined ? [node] : [...new Set(connection.caller.registry.endpoints('$node', 1).map((e) => e.id))].sort();
      for (const id of nodes) {
        const answer = (await onNode(connection, id, what === 'heal' ? 'clearFaults' : 'faults', {})) as { faults: Array<Record<string, unknown>> };
        if (what === 'heal') process.stdout.write(`healed ${id}\n`);
        else process.stdout.write(`${id}: ${answer.faults.length === 0 ? 'no faults' : answer.faults.map(describeFault).join('; ')}\n`);
      }
    }
    return 0;
  } finally {
    await connection.close();
  }
}
