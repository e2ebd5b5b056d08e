/**
 * Checks of what the host hands a RaftNode at construction: its options and its boot state.
 * These come from the host's own code and disk, so a mistake is an error, said clearly.
 */
import { ShoalError } from '../core/index.ts';
import { isClusterConfig } from './quorum.ts';
import type { RaftBoot, RaftOptions, SnapshotMeta } from './types.ts';

export interface RaftSettings {
  electionTicks: number;
  heartbeatTicks: number;
  maxEntriesPerAppend: number;
  maxInflightAppends: number;
  leaseReads: boolean;
}

const isCount = (value: unknown, min: number): value is number => Number.isSafeInteger(value) && (value as number) >= min;

export function readSettings(options: RaftOptions): RaftSettings {
  const { id, electionTicks, heartbeatTicks, random, maxEntriesPerAppend = 256, maxInflightAppends = 64, leaseReads = true } = options;
  if (typeof id !== 'string' || id.length === 0) throw new ShoalError('VALIDATION', 'a raft replica needs a non-empty id');
  // Two ticks at least: the lease keeps one tick of margin below electionTicks.
  if (!isCount(electionTicks, 2)) throw new ShoalError('VALIDATION', 'electionTicks must be an integer of at least 2', { electionTicks });
  if (!isCount(heartbeatTicks, 1) || heartbeatTicks >= electionTicks) {
    throw new ShoalError('VALIDATION', 'heartbeatTicks must be an integer from 1 to electionTicks - 1', { heartbeatTicks, electionTicks });
  }
  if (typeof random !== 'function') throw new ShoalError('VALIDATION', 'a raft replica needs a random source');
  if (!isCount(maxEntriesPerAppend, 1)) throw new ShoalError('VALIDATION', 'maxEntriesPerAppend must be a positive integer', { maxEntriesPerAppend });
  if (!isCount(maxInflightAppends, 1)) throw new ShoalError('VALIDATION', 'maxInflightAppends must be a positive integer', { maxInflightAppends });
  if (typeof leaseReads !== 'boolean') throw new ShoalError('VALIDATION', 'leaseReads must be true or false', { leaseReads });
  return { electionTicks, heartbeatTicks, maxEntriesPerAppend, maxInflightAppends, leaseReads };
}

export function isSnapshotMeta(value: unknown): value is SnapshotMeta {
  if (typeof value !== 'object' || value === null) return false;
  const meta = value as Partial<SnapshotMeta>;
  return isCount(meta.index, 0) && isCount(meta.term, 0) && isClusterConfig(meta.config);
}

export function checkBoot(boot: RaftBoot): void {
  const hardState = boot?.hardState;
  if (!hardState || !isCount(hardState.term, 0) || !isCount(hardState.commit, 0) || !(hardState.votedFor === null || typeof hardState.votedFor === 'string')) {
    throw new ShoalError('VALIDATION', 'boot hardState needs a term, a commit index and votedFor (an id or null)', { hardState });
  }
  if (!isSnapshotMeta(boot.snapshot)) throw new ShoalError('VALIDATION', 'boot snapshot needs an index, a term and a valid config', { snapshot: boot.snapshot });
  if (!Array.isArray(boot.entries)) throw new ShoalError('VALIDATION', 'boot entries must be an array');
  if (!isCount(boot.applied, 0)) throw new ShoalError('VALIDATION', 'boot applied must be a non-negative integer', { applied: boot.applied });
}
