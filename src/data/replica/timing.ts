/** The clock of shard replication: what bounds failover and how stale a follower read may be. */
export interface ReplicaTiming {
  /** One consensus tick. */
  tickMs: number;
  /** Ticks without a leader before a replica campaigns (each draws from [1, 2) × this); also the leader lease. */
  electionTicks: number;
  heartbeatTicks: number;
  maxEntriesPerAppend: number;
}

/**
 * 100 ms ticks and 10-tick elections: a dead leader is replaced 1 to 2 s after its last
 * heartbeat, and a stalled event loop (a GC pause, a busy machine) has to last about a second
 * before it costs a needless election.
 */
export const DEFAULT_REPLICA_TIMING: ReplicaTiming = { tickMs: 100, electionTicks: 10, heartbeatTicks: 2, maxEntriesPerAppend: 32 };

/** Longest a follower read may lag its leader: a follower that has not heard from one for longer refuses. */
export function followerStalenessBoundMs(timing: ReplicaTiming): number {
  return timing.tickMs * timing.electionTicks;
}
