/**
 * The leader of a shard moves its replica set toward the one the map asks for, one
 * single-server step at a time, in an order that never leaves fewer voters than before:
 * a new replica joins as a learner, is promoted once it has caught up, and only then is a
 * replica the map dropped removed. The map's first replica is the preferred leader:
 * leadership is handed to it once it is a caught-up voter, which spreads leaders over nodes
 * and makes a planned leader move (drain, `shoal data leader`) fail no write.
 */
import type { ClusterConfig, RaftStatus } from '../../consensus/index.ts';

export type ReplicaChange = { kind: 'config'; config: ClusterConfig; reason: string } | { kind: 'transfer'; to: string; reason: string };

/** A follower within this many entries of the leader's last index counts as caught up. */
export const CAUGHT_UP_ENTRIES = 64;

export function nextReplicaChange(status: RaftStatus, desired: readonly string[], options: { electionTicks: number; preferred?: string }): ReplicaChange | undefined {
  if (status.role !== 'leader' || desired.length === 0) return undefined;
  const { voters, learners } = status.config;
  const member = new Set([...voters, ...learners]);
  const progress = new Map(status.peers.map((p) => [p.id, p]));
  const caughtUp = (id: string) => {
    if (id === status.id) return true;
    const p = progress.get(id);
    return p !== undefined && !p.snapshotting && p.match >= status.lastIndex - CAUGHT_UP_ENTRIES && p.silentTicks < options.electionTicks;
  };
  const wanted = new Set(desired);

  // This leader is leaving the set: hand leadership to a replica that stays.
  if (!wanted.has(status.id)) {
    const heir = desired.find((id) => voters.includes(id) && caughtUp(id));
    if (heir) return { kind: 'transfer', to: heir, reason: 'leader leaves the replica set' };
  }
  const missing = desired.find((id) => !member.has(id));
  if (missing) return { kind: 'config', config: { voters: [...voters], learners: [...learners, missing] }, reason: `add ${missing} as a learner` };
  const ready = learners.find((id) => wanted.has(id) && caughtUp(id));
  if (ready) return { kind: 'config', config: { voters: [...voters, ready], learners: learners.filter((id) => id !== ready) }, reason: `promote ${ready}` };
  // Removing a voter the map dropped waits until every wanted replica votes, so the set never shrinks below what it was.
  const allWantedVote = desired.every((id) => voters.includes(id));
  const extraVoter = voters.find((id) => !wanted.has(id) && id !== status.id);
  if (extraVoter && allWantedVote) return { kind: 'config', config: { voters: voters.filter((id) => id !== extraVoter), learners: [...learners] }, reason: `remove ${extraVoter}` };
  const extraLearner = learners.find((id) => !wanted.has(id));
  if (extraLearner) return { kind: 'config', config: { voters: [...voters], learners: learners.filter((id) => id !== extraLearner) }, reason: `remove learner ${extraLearner}` };
  const preferred = options.preferred !== undefined && wanted.has(options.preferred) ? options.preferred : desired[0];
  if (preferred !== status.id && wanted.has(status.id) && voters.includes(preferred) && caughtUp(preferred)) return { kind: 'transfer', to: preferred, reason: 'hand leadership to the preferred replica' };
  return undefined;
}
