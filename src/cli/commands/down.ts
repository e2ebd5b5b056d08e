import { setTimeout as sleep } from 'node:timers/promises';
import { clusterDir, isPidAlive } from '../../cluster/index.ts';
import { CliError, noMorePositionals, parseWith, type CommandSpec } from '../args.ts';
import { adminAnswers, adminRequest, fetchStatus, findCluster } from '../cluster-client.ts';
import { explicitPort } from './common.ts';

// Gateways, nodes and control each get up to 30 s to drain, one group after another.
const STOP_TIMEOUT_MS = 120_000;

export const downSpec = {
  name: 'down',
  summary: 'stop the cluster running in --dir: gateways, then nodes, then control',
  usage: '[--dir DIR]',
  flags: {},
  notes: 'With nothing running there, it says so and exits 0.',
} as const satisfies CommandSpec;

export async function down(argv: string[]): Promise<number> {
  const { values, positionals } = parseWith(downSpec, argv);
  noMorePositionals(positionals, 0);
  const location = await findCluster(values.dir, explicitPort(values.port));
  if (!location) {
    // Stopping what is already stopped is done: scripts can run `shoal down` unconditionally.
    process.stdout.write(`no cluster is running in ${clusterDir(values.dir).root}: nothing to stop\n`);
    return 0;
  }
  const status = await fetchStatus(location).catch(() => undefined);
  const pids = new Set<number>();
  if (location.pid !== undefined) pids.add(location.pid);
  if (status) {
    pids.add(status.supervisorPid);
    for (const p of status.processes) if (p.pid !== null) pids.add(p.pid);
  }
  process.stdout.write(`stopping the cluster in ${location.dir} … `);
  try {
    await adminRequest(location, 'POST', '/stop');
  } catch (err) {
    // The admin API is the polite way; a supervisor that does not answer still stops on SIGTERM.
    if (location.pid === undefined) throw err;
    try {
      process.kill(location.pid, 'SIGTERM');
    } catch {
      // Already gone.
    }
  }
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  for (;;) {
    const alive = [...pids].filter((pid) => isPidAlive(pid));
    const adminUp = pids.size === 0 && (await adminAnswers(location.adminUrl));
    if (alive.length === 0 && !adminUp) break;
    if (Date.now() > deadline) {
      process.stdout.write('\n');
      throw new CliError(`the cluster did not stop within ${STOP_TIMEOUT_MS / 1000} s; still running: pids ${alive.join(', ')}`);
    }
    await sleep(200);
  }
  process.stdout.write('stopped\n');
  return 0;
}
