import { ShoalError } from '../../core/index.ts';
import type { ProcessStatus } from '../types.ts';

/**
 * Kills a cluster process the way a crash would (SIGKILL: no shutdown hook runs, nothing is
 * flushed or handed over); its supervisor restarts it with backoff. `processes` is the
 * supervisor's current view, which is where the pid comes from. Answers the pid killed.
 */
export function killNode(processes: readonly ProcessStatus[], node: string): number {
  const target = processes.find((p) => p.id === node);
  if (!target) throw new ShoalError('NOT_FOUND', `no process "${node}" in the cluster (see shoal status)`, { node });
  if (target.pid === null) throw new ShoalError('UNAVAILABLE', `${node} is not running right now`, { node });
  process.kill(target.pid, 'SIGKILL');
  return target.pid;
}
