import { setTimeout as sleep } from 'node:timers/promises';
import { connectCoordinator } from '../../cluster/index.ts';
import { LEADER_REQUESTS_PREFIX } from '../../data/index.ts';
import { CliError, noMorePositionals, parseWith, UsageError, type CommandSpec } from '../args.ts';
import { fetchShards, locateControl, requireCluster } from '../cluster-client.ts';
import { explicitPort } from './common.ts';

const POLL_MS = 250;

export const dataSpec = {
  name: 'data',
  summary: 'data store operations: hand a shard\'s leadership to one of its replicas',
  usage: 'leader SHARD NODE [--timeout S] [--dir DIR]',
  positionals: [
    { name: 'ACTION', help: 'leader' },
    { name: 'SHARD', help: 'the shard id (see shoal status)' },
    { name: 'NODE', help: 'a replica of that shard' },
  ],
  flags: {
    timeout: { type: 'string', default: '30', value: 'S', help: 'give up waiting after S seconds (default 30)' },
  },
  notes:
    'leader: the shard\'s leadership moves to NODE, which must be one of its replicas, once NODE has caught up; writes in flight are answered by the new leader, none fails. ' +
    'The choice stays: the shard goes back to NODE after a failover, while NODE is a replica. Exit codes: 0 done, 1 not done in time, 2 bad usage.',
} as const satisfies CommandSpec;

/** `shoal data leader SHARD NODE`: asks the rebalancer to make NODE the shard's preferred leader and waits until it leads. */
export async function data(argv: string[], out: (text: string) => void = (t) => process.stdout.write(t)): Promise<number> {
  const { values, positionals } = parseWith(dataSpec, argv);
  const [action, shardArg, node] = positionals;
  if (action !== 'leader') throw new UsageError(action === undefined ? 'shoal data needs an action: leader' : `unknown data action "${action}" (expected leader)`);
  noMorePositionals(positionals, 3);
  const shard = Number(shardArg);
  if (!Number.isInteger(shard) || shard < 1) throw new UsageError(`SHARD must be a shard id (a positive integer), got "${shardArg ?? ''}"`);
  if (node === undefined || node === '') throw new UsageError('NODE is missing: the replica to lead the shard');
  const timeoutS = Number(values.timeout);
  if (!Number.isFinite(timeoutS) || timeoutS <= 0) throw new UsageError(`--timeout must be a number of seconds, got "${values.timeout}"`);

  const location = await requireCluster(values.dir, explicitPort(values.port));
  const before = await fetchShards(location, location.gatewayUrl);
  const record = before?.shards.find((s) => s.id === shard);
  if (!before) throw new CliError('the cluster does not answer $data.map (is a data node running?)');
  if (!record) throw new CliError(`no shard ${shard}; shards: ${before.shards.map((s) => s.id).join(', ')}`);
  if (!record.replicas.includes(node)) throw new CliError(`${node} is not a replica of shard ${shard} (replicas: ${record.replicas.join(', ')})`);
  const { controlUrl, secret } = await locateControl(values.dir);
  const coordinator = connectCoordinator({ controlUrl, secret });
  try {
    await coordinator.put(`${LEADER_REQUESTS_PREFIX}${shard}`, { shard, node, requestedAt: Date.now() });
  } finally {
    await coordinator.close();
  }
  const until = Date.now() + timeoutS * 1000;
  while (Date.now() < until) {
    const now = (await fetchShards(location, location.gatewayUrl))?.shards.find((s) => s.id === shard);
    if (now?.leader === node) {
      out(`shard ${shard} is led by ${node} (term ${now.term})\n`);
      return 0;
    }
    await sleep(POLL_MS);
  }
  process.stderr.write(`shoal data leader: ${node} does not lead shard ${shard} after ${timeoutS} s (is it caught up? see shoal status)\n`);
  return 1;
}
