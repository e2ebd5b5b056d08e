/**
 * Majorities over a configuration's voters, and the checks a proposed configuration must pass.
 * Learners never appear here: they neither vote nor count for commit or quorum.
 */
import { ShoalError } from '../core/index.ts';
import type { ClusterConfig, PeerId } from './types.ts';

/** How many of `voters` make a majority. */
export function majority(voters: number): number {
  return Math.floor(voters / 2) + 1;
}

/**
 * The largest value that a majority of voters has reached, given one value per voter (a match
 * index, a heartbeat round answered). 0 when there are no voters.
 */
export function quorumValue(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => b - a);
  return sorted[majority(values.length) - 1];
}

export function isVoter(config: ClusterConfig, id: PeerId): boolean {
  return config.voters.includes(id);
}

export function isMember(config: ClusterConfig, id: PeerId): boolean {
  return config.voters.includes(id) || config.learners.includes(id);
}

/** Every member but `self`, voters first. */
export function othersIn(config: ClusterConfig, self: PeerId): PeerId[] {
  return [...config.voters, ...config.learners].filter((id) => id !== self);
}

export function copyConfig(config: ClusterConfig): ClusterConfig {
  return { voters: [...config.voters], learners: [...config.learners] };
}

function isIdList(value: unknown): value is PeerId[] {
  return Array.isArray(value) && value.every((id) => typeof id === 'string' && id.length > 0) && new Set(value).size === value.length;
}

/** True for a well-formed configuration: distinct non-empty ids, nobody both voter and learner. */
export function isClusterConfig(value: unknown): value is ClusterConfig {
  if (typeof value !== 'object' || value === null) return false;
  const { voters, learners } = value as Partial<ClusterConfig>;
  if (!isIdList(voters) || !isIdList(learners)) return false;
  return !voters.some((id) => learners.includes(id));
}

/**
 * Refuses a configuration that is malformed, has no voter, or adds or removes more than one
 * voter at once: with one voter changed, any majority of the old voters and any majority of
 * the new ones share a member, which is what lets a change take effect on append.
 */
export function checkConfigChange(current: ClusterConfig, next: unknown): ClusterConfig {
  if (!isClusterConfig(next)) {
    throw new ShoalError('VALIDATION', 'a config needs voters and learners: distinct non-empty ids, none in both', { config: next });
  }
  if (next.voters.length === 0) throw new ShoalError('VALIDATION', 'a config needs at least one voter', { config: next });
  const added = next.voters.filter((id) => !current.voters.includes(id));
  const removed = current.voters.filter((id) => !next.voters.includes(id));
  if (added.length + removed.length > 1) {
    throw new ShoalError('VALIDATION', 'a config change may add or remove at most one voter at a time', { added, removed });
  }
  return copyConfig(next);
}
