/**
 * The leader's side of log replication: one Progress per other member, appends (pipelined or
 * probing), heartbeats, and the answers to both. It decides what goes to whom; committing and
 * everything else a leader does sits in Leadership.
 */
import { Progress } from './progress.ts';
import { othersIn } from './quorum.ts';
import type { RaftLog } from './raft-log.ts';
import type { ClusterConfig, LogEntry, PeerId, RaftMessage } from './types.ts';

type AppendReply = Extract<RaftMessage, { type: 'appendReply' }>;

/** What replication needs from the replica it runs on. */
export interface ReplicationHost {
  readonly id: PeerId;
  readonly term: number;
  readonly log: RaftLog;
  readonly maxEntriesPerAppend: number;
  readonly maxInflightAppends: number;
  readonly retransmitTicks: number;
  /** The heartbeat round appends carry now. */
  round(): number;
  send(message: RaftMessage): void;
  /** The follower needs a snapshot; returns the index the snapshot will stand at. */
  requestSnapshot(to: PeerId): number;
}

export class Replicator {
  readonly #host: ReplicationHost;
  readonly #peers = new Map<PeerId, Progress>();

  constructor(host: ReplicationHost) {
    this.#host = host;
  }

  /** Tracks exactly the members of `config` other than this replica; newcomers start probing at the end of the log. */
  sync(config: ClusterConfig): void {
    const members = new Set(othersIn(config, this.#host.id));
    for (const id of this.#peers.keys()) if (!members.has(id)) this.#peers.delete(id);
    for (const id of members) {
      if (!this.#peers.has(id)) this.#peers.set(id, new Progress(id, this.#host.log.lastIndex + 1, this.#host.maxInflightAppends, this.#host.retransmitTicks));
    }
  }

  get(id: PeerId): Progress | undefined {
    return this.#peers.get(id);
  }

  all(): Progress[] {
    return [...this.#peers.values()];
  }

  tick(): void {
    for (const progress of this.#peers.values()) progress.tick();
  }

  /** Sends `progress` what it may have now: one probe, or appends until the pipeline is full. */
  replicate(progress: Progress): void {
    if (progress.mode === 'probe') {
      this.#sendAppend(progress, true);
      return;
    }
    while (this.#sendAppend(progress, false));
  }

  replicateAll(): void {
    for (const progress of this.#peers.values()) this.replicate(progress);
  }

  /**
   * A heartbeat to every member: an empty append at a point its log is known to match (so it
   * is accepted whatever else is in flight), carrying the commit index and the new round.
   */
  heartbeat(): void {
    const log = this.#host.log;
    for (const progress of this.#peers.values()) {
      const prevIndex = Math.max(progress.match, log.snapshot.index);
      this.#send(progress, prevIndex, []);
    }
    for (const progress of this.#peers.values()) if (progress.mode === 'probe') this.replicate(progress);
  }

  /** The commit index moved: tell those followers that hold entries it now covers. */
  announceCommit(): void {
    for (const progress of this.#peers.values()) this.#tellCommit(progress);
  }

  /** Takes a follower's answer; returns whether its match moved. Sends what it may have next. */
  onReply(progress: Progress, m: AppendReply): boolean {
    let moved = false;
    if (m.success) {
      // A match beyond this log cannot be true; ignore it rather than count it.
      if (m.index > this.#host.log.lastIndex) return false;
      moved = progress.acked(m.index, m.round);
    } else {
      progress.refused(m.index);
    }
    this.replicate(progress);
    this.#tellCommit(progress);
    return moved;
  }

  /** Returns true when something was sent that carried entries (replicate mode goes on while it does). */
  #sendAppend(progress: Progress, allowEmpty: boolean): boolean {
    if (progress.paused) return false;
    const log = this.#host.log;
    if (progress.next <= log.snapshot.index) {
      progress.awaitSnapshot(this.#host.requestSnapshot(progress.id));
      return false;
    }
    const entries = log.slice(progress.next, progress.next + this.#host.maxEntriesPerAppend - 1);
    if (entries.length === 0 && !allowEmpty) return false;
    this.#send(progress, progress.next - 1, entries);
    progress.sent(progress.next - 1 + entries.length, this.#host.round());
    return entries.length > 0;
  }

  /**
   * A follower that holds entries the commit index covers, but was not told so, hears at once
   * (an empty append at its match), rather than at the next heartbeat.
   */
  #tellCommit(progress: Progress): void {
    if (progress.mode === 'snapshot' || progress.commitSent >= Math.min(this.#host.log.commit, progress.match)) return;
    this.#send(progress, progress.match, []);
  }

  #send(progress: Progress, prevIndex: number, entries: LogEntry[]): void {
    const { id, term, log } = this.#host;
    progress.commitSent = log.commit;
    this.#host.send({ type: 'append', from: id, to: progress.id, term, prevIndex, prevTerm: log.term(prevIndex) as number, entries, commit: log.commit, round: this.#host.round() });
  }
}
