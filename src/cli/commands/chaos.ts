import { connect, killNode, NodeFaults, type ListedFault } from '../../cluster/index.ts';
import { ShoalError } from '../../core/index.ts';
import { CliError, noMorePositionals, parseWith, UsageError } from '../args.ts';
import { fetchStatus, locateControl, requireCluster } from '../cluster-client.ts';
import { CHAOS_ACTIONS, chaosSpec, durationOption, FAULT_FLAGS, TEST_FLAGS, type ChaosValues } from './chaos-spec.ts';
import { chaosTest } from './chaos-test.ts';
import { explicitPort } from './common.ts';

/** A flag of one kind of action given to the other kind is a mistake worth naming. */
function refuseForeignFlags(what: string, values: ChaosValues): void {
  const foreign = what === 'test' ? FAULT_FLAGS : TEST_FLAGS;
  const given = foreign.find((flag) => values[flag] !== undefined && values[flag] !== false);
  if (given !== undefined) throw new UsageError(`--${given} is not an option of chaos ${what}`);
}

function describeFault(fault: ListedFault): string {
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
  const [what, node] = positionals;
  if (what === undefined) throw new UsageError('chaos needs an action: kill, partition, slow, heal, list or test');
  if (!CHAOS_ACTIONS.includes(what)) throw new UsageError(`unknown chaos action "${what}": kill, partition, slow, heal, list or test`);
  refuseForeignFlags(what, values);
  try {
    if (what === 'test') {
      noMorePositionals(positionals, 1);
      return await chaosTest(values);
    }
    noMorePositionals(positionals, 2);
    return await faultAction(what, node, values);
  } catch (err) {
    // A refusal from the cluster (no such node, none running) is read as is, without a stack.
    if (err instanceof ShoalError) throw new CliError(err.message);
    throw err;
  }
}

async function faultAction(what: string, node: string | undefined, values: ChaosValues): Promise<number> {
  const needsNode = what === 'kill' || what === 'partition' || what === 'slow';
  if (needsNode && node === undefined) throw new UsageError(`chaos ${what} needs a NODE, e.g. shoal chaos ${what} node-2`);
  const forMs = durationOption('for', values.for);
  const latencyMs = durationOption('latency', values.latency);
  const jitterMs = durationOption('jitter', values.jitter);
  if (what === 'slow' && latencyMs === undefined) throw new UsageError('chaos slow needs --latency, e.g. --latency 100ms');

  if (what === 'kill') {
    const status = await fetchStatus(await requireCluster(values.dir, explicitPort(values.port)));
    const pid = killNode(status.processes, node!);
    process.stdout.write(`killed ${node} (pid ${pid}) with SIGKILL; the supervisor restarts it\n`);
    return 0;
  }

  const { controlUrl, secret } = await locateControl(values.dir);
  const connection = await connect({ controlUrl, secret, clientId: `chaos-${process.pid}` });
  const faults = new NodeFaults(connection);
  try {
    if (what === 'partition') {
      const peers = await faults.partition(node!, { ...(values.from !== undefined ? { from: values.from } : {}), ...(forMs ? { forMs } : {}) });
      process.stdout.write(`partitioned ${node} from ${peers.join(', ') || 'nobody (it has no peers)'}${forMs ? ` for ${forMs} ms` : ' until shoal chaos heal'}\n`);
    } else if (what === 'slow') {
      await faults.slow(node!, { latencyMs: latencyMs!, ...(jitterMs ? { jitterMs } : {}), ...(values.from !== undefined ? { from: values.from } : {}), ...(forMs ? { forMs } : {}) });
      process.stdout.write(`slowed ${node}'s traffic to ${values.from ?? 'every peer'} by ${latencyMs} ms${forMs ? ` for ${forMs} ms` : ''}\n`);
    } else if (what === 'heal') {
      for (const id of await faults.heal(node)) process.stdout.write(`healed ${id}\n`);
    } else {
      for (const { node: id, faults: listed } of await faults.list(node)) {
        process.stdout.write(`${id}: ${listed.length === 0 ? 'no faults' : listed.map(describeFault).join('; ')}\n`);
      }
    }
    return 0;
  } finally {
    await connection.close();
  }
}
