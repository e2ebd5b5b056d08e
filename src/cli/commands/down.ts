import { setTimeout as sleep } from 'node:timers/promises';
import { isPidAlive } from '../../cluster/index.ts';
import { CliError, noMorePositionals, parseCommand } from '../args.ts';
import { adminAnswers, adminRequest, fetchStatus, requireCluster } from '../cluster-client.ts';
import { explicitPort } from './common.ts';

// Gateways, nodes and control each get up to 30 s to drain, one group after another.
const STOP_TIMEOUT_MS = 120_000;

export async function down(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand(argv, {});
  noMorePositionals(positionals, 0);
  const location = await requireCluster(values.dir, explicitPort(values.port));
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
