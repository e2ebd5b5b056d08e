/**
 * One term of leadership on this replica: the noop that opens it, heartbeats, commit by
 * counting, check-quorum, reads (lease or ReadIndex) and leadership transfer. It lives as long
 * as the term does; the replica drops it when it steps down, and with it any unconfirmed reads.
 */
import { LeaderLease } from './lease.ts';
import { isVoter, majority, quorumValue } from './quorum.ts';
import { ReadQueue } from './read-queue.ts';
import type { RaftLog } from './raft-log.ts';
import { Replicator } from './replicator.ts';
import type { ClusterConfig, PeerId, PeerProgress, RaftMessage } from './types.ts';

type AppendReply = Extract<RaftMessage, { type: 'appendReply' }>;

/** Whether the replica should stay leader after an event. */
export type LeaderVerdict = 'stay' | 'stepDown';

export interface LeaderHost {
  readonly id: PeerId;
  readonly term: number;
  readonly log: RaftLog;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly maxEntriesPerAppend: number;
  readonly maxInflightAppends: number;
  /** Whether reads may use the lease (otherwise each waits for a heartbeat round). */
  readonly leaseReads: boolean;
  now(): number;
  send(message: RaftMessage): void;
  requestSnapshot(to: PeerId): number;
  confirmRead(id: number, index: number): void;
}

interface Transfer {
  to: PeerId;
  elapsed: number;
  timeoutSent: boolean;
}

export class Leadership {
  readonly #host: LeaderHost;
  readonly #replicator: Replicator;
  readonly #lease: LeaderLease;
  readonly #reads = new ReadQueue();
  /** Index of this term's noop: once it commits, so has everything earlier leaders committed. */
  readonly #termStart: number;
  #heartbeatElapsed = 0;
  #roundWanted = false;
  #transfer: Transfer | null = null;

  constructor(host: LeaderHost) {
    this.#host = host;
    this.#lease = new LeaderLease(host.electionTicks);
    this.#replicator = new Replicator({
      id: host.id,
      term: host.term,
      log: host.log,
      maxEntriesPerAppend: host.maxEntriesPerAppend,
      maxInflightAppends: host.maxInflightAppends,
      retransmitTicks: host.electionTicks,
      round: () => this.#lease.round,
      send: (message) => host.send(message),
      requestSnapshot: (to) => host.requestSnapshot(to),
    });
    this.#replicator.sync(host.log.config);
    this.#termStart = host.log.lastIndex + 1;
    host.log.append({ index: this.#termStart, term: host.term, type: 'noop' });
    this.#lease.startRound(host.now());
    this.#replicator.replicateAll();
  }

  /** Whether an entry of this term has committed (everything earlier leaders committed has, then). */
  get termCommitted(): boolean {
    return this.#host.log.commit >= this.#termStart;
  }

  get transferring(): PeerId | null {
    return this.#transfer?.to ?? null;
  }

  /** Whether a read has asked for a heartbeat round that has not started yet. */
  get roundWanted(): boolean {
    return this.#roundWanted;
  }

  tick(): LeaderVerdict {
    this.#replicator.tick();
    if (this.#transfer && ++this.#transfer.elapsed >= this.#host.electionTicks) this.#transfer = null;
    if (++this.#heartbeatElapsed >= this.#host.heartbeatTicks) this.#beat();
    return this.#hearsFromQuorum() ? 'stay' : 'stepDown';
  }

  /** Starts the heartbeat round a read is waiting for, if one is. */
  flushRound(): void {
    if (this.#roundWanted) this.#beat();
  }

  propose(entry: { type: 'command'; command: unknown } | { type: 'config'; config: ClusterConfig }): { index: number; term: number } {
    const { log, term } = this.#host;
    const index = log.lastIndex + 1;
    log.append(entry.type === 'command' ? { index, term, type: 'command', command: entry.command } : { index, term, type: 'config', config: entry.config });
    if (entry.type === 'config') this.#configChanged();
    this.#replicator.replicateAll();
    return { index, term };
  }

  onReply(m: AppendReply): LeaderVerdict {
    const progress = this.#replicator.get(m.from);
    if (!progress) return 'stay';
    progress.heard(Math.min(m.round, this.#lease.round));
    const moved = this.#replicator.onReply(progress, m);
    const verdict = moved ? this.#maybeCommit() : 'stay';
    this.#confirmReads();
    if (this.#transfer?.to === progress.id) this.#maybeSendTimeoutNow();
    return verdict;
  }

  /** The host persisted more of this replica's log, which counts for commit. */
  persisted(): LeaderVerdict {
    return this.#maybeCommit();
  }

  read(id: number): void {
    if (this.#host.log.commit < this.#termStart) this.#reads.awaitTermCommit(id);
    else this.#serveRead(id);
  }

  leaseValid(): boolean {
    if (this.#host.log.commit < this.#termStart || this.#transfer) return false;
    return this.#lease.validAt(this.#host.now(), this.#quorumRound());
  }

  transfer(to: PeerId): void {
    if (this.#transfer?.to === to) return;
    this.#transfer = { to, elapsed: 0, timeoutSent: false };
    const progress = this.#replicator.get(to);
    if (progress) this.#replicator.replicate(progress);
    this.#maybeSendTimeoutNow();
  }

  snapshotSent(to: PeerId, ok: boolean): void {
    this.#replicator.get(to)?.snapshotDone(ok);
  }

  peers(): PeerProgress[] {
    const config = this.#host.log.config;
    return this.#replicator.all().map((p) => ({ id: p.id, voter: isVoter(config, p.id), match: p.match, silentTicks: p.silentTicks, snapshotting: p.mode === 'snapshot' }));
  }

  #beat(): void {
    this.#heartbeatElapsed = 0;
    this.#roundWanted = false;
    this.#lease.startRound(this.#host.now());
    this.#replicator.heartbeat();
    this.#confirmReads();
  }

  #serveRead(id: number): void {
    if (this.#host.leaseReads && this.leaseValid()) {
      this.#host.confirmRead(id, this.#host.log.commit);
      return;
    }
    this.#reads.awaitRound(id, this.#host.log.commit, this.#lease.round + 1);
    this.#roundWanted = true;
  }

  #confirmReads(): void {
    for (const read of this.#reads.confirmUpTo(this.#quorumRound())) this.#host.confirmRead(read.id, read.index);
  }

  /** The latest round a majority of voters has answered; the leader answers its own at once. */
  #quorumRound(): number {
    const { id, log } = this.#host;
    return quorumValue(log.config.voters.map((voter) => (voter === id ? this.#lease.round : (this.#replicator.get(voter)?.ackedRound ?? 0))));
  }

  /** Check-quorum: a majority of voters answered within the last electionTicks. */
  #hearsFromQuorum(): boolean {
    const { id, log, electionTicks } = this.#host;
    const voters = log.config.voters;
    const active = voters.filter((voter) => voter === id || (this.#replicator.get(voter)?.silentTicks ?? electionTicks) < electionTicks);
    return active.length >= majority(voters.length);
  }

  /**
   * Commits the highest index a majority of voters has persisted, if it is of this term
   * (Raft's Figure 8: an earlier term's entry is committed only by one of this term after it).
   * The leader's own log counts only as far as its host has made it durable.
   */
  #maybeCommit(): LeaderVerdict {
    const { id, term, log } = this.#host;
    const matches = log.config.voters.map((voter) => (voter === id ? log.persisted : (this.#replicator.get(voter)?.match ?? 0)));
    const index = quorumValue(matches);
    if (index > log.commit && log.term(index) === term) {
      log.commitTo(index);
      this.#replicator.announceCommit();
      if (log.commit >= this.#termStart) for (const readId of this.#reads.takeAwaitingTerm()) this.#serveRead(readId);
    }
    // A leader the committed config no longer lists as a voter hands over by stepping down.
    return !isVoter(log.config, id) && log.commit >= log.configIndex ? 'stepDown' : 'stay';
  }

  #configChanged(): void {
    this.#replicator.sync(this.#host.log.config);
    // Fewer voters may already make a majority for entries waiting to commit.
    this.#maybeCommit();
    if (this.#transfer && !isVoter(this.#host.log.config, this.#transfer.to)) this.#transfer = null;
  }

  #maybeSendTimeoutNow(): void {
    const transfer = this.#transfer;
    if (!transfer || transfer.timeoutSent) return;
    const progress = this.#replicator.get(transfer.to);
    if (!progress || progress.match < this.#host.log.lastIndex) return;
    transfer.timeoutSent = true;
    this.#lease.forfeit();
    this.#host.send({ type: 'timeoutNow', from: this.#host.id, to: transfer.to, term: this.#host.term });
  }
}
