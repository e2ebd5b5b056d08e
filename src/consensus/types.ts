/**
 * Contracts of Shoal's one consensus core: Raft (Ongaro & Ousterhout, with the dissertation's
 * pre-vote, check-quorum, leader leases, single-server membership changes and leadership
 * transfer). The core is a deterministic state machine: it does no I/O and reads no clock.
 * Its host feeds it ticks, messages and proposals, and drains `ready()`: what to persist,
 * what to send, what to apply. Data shards and (later) the control plane are both hosts.
 *
 * The host's rule, in this order for every Ready:
 * 1. persist `hardState` (when present) and `entries` (truncating the stored log from the
 *    first entry's index) durably, as one write: `hardState.commit` may cover entries of the
 *    same Ready;
 * 2. only then send `messages` (a vote or an append reply must never get ahead of the disk);
 *    for each of `snapshots`, capture the applied state as it is now (before step 3) and send
 *    it out of band, reporting the outcome later with snapshotSent();
 * 3. apply `committed` in order, then answer `reads` whose index is applied;
 * 4. call `advance(ready)` before asking for the next Ready.
 */

export type PeerId = string;

/** Who takes part: voters elect and count for commit; learners only receive the log (a new replica catching up). */
export interface ClusterConfig {
  voters: PeerId[];
  learners: PeerId[];
}

/** The part of a replica's state that must survive a crash (besides the log). */
export interface HardState {
  term: number;
  /** Whom this replica voted for in `term`, or null. */
  votedFor: PeerId | null;
  /** Highest index known committed; may lag (it is re-learned from the leader), never runs ahead. */
  commit: number;
}

/**
 * One log entry. `command` is the host's opaque payload (JSON-serialisable). A `config` entry
 * takes effect as soon as it is appended (single-server change); a `noop` is what a new leader
 * appends to commit entries of earlier terms.
 */
export type LogEntry =
  | { index: number; term: number; type: 'command'; command: unknown }
  | { index: number; term: number; type: 'config'; config: ClusterConfig }
  | { index: number; term: number; type: 'noop' };

/** Where a snapshot (the host's applied state) stands in the log. */
export interface SnapshotMeta {
  index: number;
  term: number;
  config: ClusterConfig;
}

export type RaftMessage =
  | { type: 'vote'; from: PeerId; to: PeerId; term: number; lastIndex: number; lastTerm: number; preVote: boolean; transfer: boolean }
  | { type: 'voteReply'; from: PeerId; to: PeerId; term: number; granted: boolean; preVote: boolean }
  | {
      type: 'append';
      from: PeerId;
      to: PeerId;
      term: number;
      prevIndex: number;
      prevTerm: number;
      entries: LogEntry[];
      commit: number;
      /** Heartbeat round this append belongs to, echoed in the reply: what leases and read confirmations count. */
      round: number;
    }
  | {
      type: 'appendReply';
      from: PeerId;
      to: PeerId;
      term: number;
      success: boolean;
      /** On success: the last index the follower now matches. On refusal: a hint where to retry from. */
      index: number;
      round: number;
    }
  | { type: 'timeoutNow'; from: PeerId; to: PeerId; term: number };

/** What the host must do next; see the rule at the top. */
export interface Ready {
  hardState?: HardState;
  /** New log entries to persist; the stored log is truncated from entries[0].index first. */
  entries: LogEntry[];
  messages: RaftMessage[];
  /**
   * Committed entries to apply, in index order, none applied before. Only entries an earlier
   * Ready's advance() made durable here are handed out: applied state never runs ahead of
   * this replica's disk.
   */
  committed: LogEntry[];
  /**
   * Followers whose needed entries were compacted away: the host sends them a snapshot of its
   * applied state (out of band) and reports the outcome with snapshotSent(). `meta.index` is
   * the index that state stands at when the host gets this Ready, before it applies this
   * Ready's `committed`. A follower is named once; it is named again only after a transfer
   * reported failed, once it answers the leader again.
   */
  snapshots: Array<{ to: PeerId; meta: SnapshotMeta }>;
  /**
   * Reads confirmed linearizable: each may be answered once the host has applied `index`,
   * from any state at or after it. Reads still unconfirmed when this replica stops leading are
   * dropped without a word: the host times them out and the client retries on the leader.
   */
  reads: Array<{ id: number; index: number }>;
  /** Set when the role, term or leader changed since the last Ready. */
  status?: RaftStatus;
}

/** A replica polling for pre-votes has not changed its term and reports itself a follower. */
export type RaftRole = 'follower' | 'candidate' | 'leader';

export interface PeerProgress {
  id: PeerId;
  voter: boolean;
  /** Highest index known replicated on the peer. */
  match: number;
  /** Ticks since the peer last answered (leader only). */
  silentTicks: number;
  /** Waiting for a snapshot transfer. */
  snapshotting: boolean;
}

export interface RaftStatus {
  id: PeerId;
  role: RaftRole;
  term: number;
  leader: PeerId | null;
  commit: number;
  applied: number;
  lastIndex: number;
  config: ClusterConfig;
  /** Leader only: every other member's progress. */
  peers: PeerProgress[];
}

export interface RaftOptions {
  id: PeerId;
  /**
   * Ticks without hearing from a leader before a follower campaigns; each replica draws its own
   * timeout in [electionTicks, 2 × electionTicks) from `random`. A leader that has not heard
   * from a majority within electionTicks steps down (check-quorum).
   */
  electionTicks: number;
  /** Ticks between heartbeats; well below electionTicks. */
  heartbeatTicks: number;
  /** Deterministic source in [0, 1), seeded by the host (tests pass core's seededRandom). */
  random: () => number;
  /** Entries per append message, and bytes are the host's business (default 256). */
  maxEntriesPerAppend?: number;
  /** Appends in flight per follower before waiting for replies (pipelining; default 64). */
  maxInflightAppends?: number;
  /**
   * Whether a leader answers reads from its lease without a round trip (default true). The
   * lease assumes replicas' ticks run at the same rate; a host that cannot promise that turns
   * it off, and every read waits for a heartbeat round (ReadIndex).
   */
  leaseReads?: boolean;
}

/** What a restarted replica loads from its disk. */
export interface RaftBoot {
  hardState: HardState;
  /** The snapshot the host's state stands at (index 0 and the initial config for a new replica). */
  snapshot: SnapshotMeta;
  /** Stored entries after snapshot.index, in order. */
  entries: LogEntry[];
  /** Highest index already applied to the host's state (≥ snapshot.index). */
  applied: number;
}
