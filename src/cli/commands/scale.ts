import { MAX_NODES, type ClusterStatus } from '../../cluster/index.ts';
import { noMorePositionals, parseWith, UsageError, type CommandSpec } from '../args.ts';
import { adminRequest, requireCluster } from '../cluster-client.ts';
import { explicitPort } from './common.ts';

export const scaleSpec = {
  name: 'scale',
  summary: 'run N nodes: start new ones, or drain the newest (their data moves first)',
  usage: 'N [--dir DIR]',
  positionals: [{ name: 'N', help: `the number of nodes, 1 to ${MAX_NODES}` }],
  flags: {},
} as const satisfies CommandSpec;

export async function scale(argv: string[]): Promise<number> {
  const { values, positionals } = parseWith(scaleSpec, argv);
  noMorePositionals(positionals, 1);
  const raw = positionals[0];
  if (raw === undefined) throw new UsageError('scale needs the number of nodes, e.g. shoal scale 4');
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > MAX_NODES) {
    throw new UsageError(`the number of nodes must be an integer from 1 to ${MAX_NODES}, got "${raw}"`);
  }
  const nodes = Number(raw);
  const location = await requireCluster(values.dir, explicitPort(values.port));
  process.stdout.write(`scaling to ${nodes} node(s) … `);
  const status = (await adminRequest(location, 'POST', '/scale', { nodes })) as ClusterStatus;
  process.stdout.write('done\n');
  for (const p of status.processes.filter((p) => p.role === 'node')) {
    process.stdout.write(`  ${p.id}  ${p.health}  ${p.address}\n`);
  }
  return 0;
}
