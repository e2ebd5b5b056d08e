/**
 * One Raft replica as a deterministic state machine: no I/O, no clock, no timers. The host
 * feeds it ticks, messages and requests and drains `ready()` (see the rule in types.ts). This
 * class holds the term, the vote and the role and routes each input; the log, replication,
 * leases, reads and elections each live in their own file.
 */
import { ShoalError } from '../core/index.ts';
import { VoteTally } from './election.ts';
import { acceptAppend } from './follower.ts';
import { Leadership, type LeaderVerdict } from './leadership.ts';
import { acceptMessage } from './message-check.ts';
import { checkBoot, isSnapshotMeta, readSettings, type RaftSettings } from './options.ts';
import { Outbox, type StatusHead } from './outbox.ts';
import { checkConfigChange, copyConfig, isVoter } from './quorum.ts';
import { RaftLog } from './raft-log.ts';
import type { ClusterConfig, HardState, PeerId, RaftBoot, RaftMessage, RaftOptions, RaftRole, RaftStatus, Ready, SnapshotMeta } from './types.ts';

/** A pre-candidate polls for pre-votes without touching its term; it reports itself as a follower. */
type Role = 'follower' | 'preCandidate' | 'candidate' | 'leader';
type CampaignKind = 'preVote' | 'election' | 'transfer';
type Message<T extends RaftMessage['type']> = Extract<RaftMessage, { type: T }>;

export class RaftNode {
  readonly #id: PeerId;
  readonly #settings: RaftSettings;
  readonly #random: () => number;
  readonly #log: RaftLog;
  readonly #outbox: Outbox;
  #term: number;
  #votedFor: PeerId | null;
  #role: Role = 'follower';
  #leader: PeerId | null = null;
  #now = 0;
  #electionElapsed = 0;
  #electionTimeout = 0;
  /**
   * Ticks since a leader of this term was last heard from, up to electionTicks. Below that,
   * (pre-)votes are refused: leader stickiness, on which the leader lease rests.
   */
  #sinceLeader: number;
  #tally: VoteTally | null = null;
  #leadership: Leadership | null = null;

  constructor(options: RaftOptions, boot: RaftBoot) {
    this.#settings = readSettings(options);
    checkBoot(boot);
    this.#id = options.id;
    this.#random = options.random;
    this.#log = new RaftLog(boot.snapshot, boot.entries, boot.hardState.commit, boot.applied);
    this.#term = boot.hardState.term;
    this.#votedFor = boot.hardState.votedFor;
    // Before a crash this replica may have answered a leader whose lease counts on it refusing
    // votes for electionTicks; it cannot know, so after a restart with a term it keeps that promise.
    this.#sinceLeader = this.#term > 0 ? 0 : this.#settings.electionTicks;
    this.#resetElectionTimer();
    this.#outbox = new Outbox(boot.hardState, this.#statusHead());
  }

  /** One logical tick: election timeouts, heartbeats, check-quorum and the lease count these. */
  tick(): void {
    this.#now++;
    if (this.#sinceLeader < this.#settings.electionTicks) this.#sinceLeader++;
    if (this.#leadership) {
      this.#obey(this.#leadership.tick());
      return;
    }
    if (++this.#electionElapsed < this.#electionTimeout) return;
    if (isVoter(this.#log.config, this.#id)) this.#campaign('preVote');
    else this.#resetElectionTimer();
  }

  /** A message from the network; one for another replica, or malformed, is ignored. */
  step(message: RaftMessage): void {
    const m = acceptMessage(message, this.#id);
    if (m === null) return;
    if (m.term > this.#term && !this.#adoptTerm(m)) return;
    if (m.term < this.#term) {
      this.#answerStale(m);
      return;
    }
    switch (m.type) {
      case 'vote':
        return this.#onVote(m);
      case 'voteReply':
        return this.#onVoteReply(m);
      case 'append':
        return this.#onAppend(m);
      case 'appendReply':
        if (this.#leadership) this.#obey(this.#leadership.onReply(m));
        return;
      case 'timeoutNow':
        if (this.#role !== 'leader') this.#campaign('transfer');
        return;
    }
  }

  /**
   * Appends a command (leader only; not while a transfer is under way). It is done when the
   * host applies an entry at `index` of `term`; another entry there means it was lost.
   */
  propose(command: unknown): { index: number; term: number } {
    return this.#leaderForWrites().propose({ type: 'command', command });
  }

  /**
   * Appends a configuration that adds or removes at most one voter (learners change freely).
   * CONFLICT while an earlier change is uncommitted or before this term's first commit.
   */
  proposeConfig(config: ClusterConfig): { index: number; term: number } {
    const leadership = this.#leaderForWrites();
    if (this.#log.configIndex > this.#log.commit) {
      throw new ShoalError('CONFLICT', 'an earlier config change is not committed yet', { pendingIndex: this.#log.configIndex, commit: this.#log.commit });
    }
    // Until an entry of its own term commits, a new leader may hold an uncommitted config of an
    // earlier leader that is not in every majority's log; a change on top of it could leave two
    // configs without a common majority (the single-server change bug the dissertation's
    // erratum fixes this way).
    if (!leadership.termCommitted) {
      throw new ShoalError('CONFLICT', 'a new leader changes the config only once an entry of its term is committed', { commit: this.#log.commit });
    }
    return leadership.propose({ type: 'config', config: checkConfigChange(this.#log.config, config) });
  }

  /** Asks for a linearizable read (leader only); it is confirmed in a later ready().reads. */
  read(id: number): void {
    if (!Number.isSafeInteger(id)) throw new ShoalError('VALIDATION', 'a read id must be an integer', { id });
    this.#leaderOnly().read(id);
  }

  /**
   * Brings `to` (a voter) up to date, then tells it to campaign at once. Proposals are refused
   * meanwhile; the attempt is abandoned after electionTicks.
   */
  transferLeadership(to: PeerId): void {
    const leadership = this.#leaderOnly();
    if (to === this.#id) return;
    if (!isVoter(this.#log.config, to)) throw new ShoalError('VALIDATION', 'leadership can go only to a voter', { to });
    leadership.transfer(to);
  }

  /** Starts an election now (with a pre-vote round); does nothing on a leader or a non-voter. */
  campaign(): void {
    if (this.#role !== 'leader') this.#campaign('preVote');
  }

  /** Whether ready() has anything for the host. */
  hasReady(): boolean {
    return (
      this.#log.hasToPersist() ||
      this.#log.hasToApply() ||
      this.#outbox.hasMail ||
      this.#outbox.hardStateChanged(this.#hardState()) ||
      this.#outbox.statusChanged(this.#statusHead()) ||
      (this.#leadership?.roundWanted ?? false)
    );
  }

  /** What the host must do next, by the rule in types.ts; marks it handed out. */
  ready(): Ready {
    this.#leadership?.flushRound();
    const entries = this.#log.takeToPersist();
    const committed = this.#log.takeToApply();
    const { hardState, statusChanged, messages, snapshots, reads } = this.#outbox.take(this.#hardState(), this.#statusHead());
    return {
      ...(hardState ? { hardState } : {}),
      entries,
      messages,
      committed,
      snapshots,
      reads,
      ...(statusChanged ? { status: this.status() } : {}),
    };
  }

  /** The host did what `ready` asked: its entries are durable and its committed entries applied. */
  advance(ready: Ready): void {
    const persisted = ready?.entries?.at(-1);
    if (persisted) this.#log.persistedTo(persisted.index, persisted.term);
    const applied = ready?.committed?.at(-1);
    if (applied) this.#log.appliedTo(applied.index);
    if (persisted && this.#leadership) this.#obey(this.#leadership.persisted());
  }

  /** The host finished sending `to` the snapshot it was asked for, or gave up (ok false). */
  snapshotSent(to: PeerId, ok: boolean): void {
    this.#leadership?.snapshotSent(to, ok);
  }

  /**
   * The host replaced its state with a leader's snapshot at meta.index, which must be above
   * status().commit (an older one would roll back entries this replica acknowledged: the host
   * drops it). The host keeps its stored entries after meta.index only if its stored entry at
   * meta.index has meta.term, and drops them otherwise; this replica does the same with its
   * log. The leader learns of it from the next answer to an append.
   */
  installSnapshot(meta: SnapshotMeta): void {
    if (!isSnapshotMeta(meta)) throw new ShoalError('VALIDATION', 'a snapshot needs an index, a term and a valid config', { meta });
    if (meta.index <= this.#log.commit) {
      throw new ShoalError('CONFLICT', 'a snapshot at or below the commit index is not needed; keep the current state', { index: meta.index, commit: this.#log.commit });
    }
    if (this.#role === 'leader') this.#becomeFollower(this.#term, null);
    this.#log.install({ index: meta.index, term: meta.term, config: copyConfig(meta.config) });
  }

  /**
   * The host has applied and made durable its state up to `index`: entries up to it leave
   * memory, and the term there and the config then become the snapshot's.
   */
  compact(index: number): void {
    if (!Number.isSafeInteger(index) || index > this.#log.applied) {
      throw new ShoalError('VALIDATION', 'the log can be compacted only up to the applied index', { index, applied: this.#log.applied });
    }
    this.#log.compact(index);
  }

  /** Where this replica stands; `peers` only on a leader. */
  status(): RaftStatus {
    const log = this.#log;
    return {
      id: this.#id,
      role: this.#publicRole(),
      term: this.#term,
      leader: this.#leader,
      commit: log.commit,
      applied: log.applied,
      lastIndex: log.lastIndex,
      config: copyConfig(log.config),
      peers: this.#leadership?.peers() ?? [],
    };
  }

  /** Whether this replica leads under a lease now (see lease.ts for why that is safe). */
  leaseValid(): boolean {
    return this.#leadership?.leaseValid() ?? false;
  }

  /**
   * A message from a later term. Returns false when it is to be ignored: a (pre-)vote that
   * would disturb a leader still heard from. Otherwise this replica follows the later term,
   * except for pre-votes, which change no term.
   */
  #adoptTerm(m: RaftMessage): boolean {
    if (m.type === 'vote') {
      if (!m.transfer && (this.#role === 'leader' || this.#sinceLeader < this.#settings.electionTicks)) return false;
      if (m.preVote) return true;
    }
    if (m.type === 'voteReply' && m.preVote && m.granted) return true;
    this.#becomeFollower(m.term, m.type === 'append' || m.type === 'timeoutNow' ? m.from : null);
    return true;
  }

  /** A message from an earlier term: tell the sender the current term so that it steps down. */
  #answerStale(m: RaftMessage): void {
    if (m.type === 'append') this.#send({ type: 'appendReply', from: this.#id, to: m.from, term: this.#term, success: false, index: 0, round: m.round });
    else if (m.type === 'vote') this.#send({ type: 'voteReply', from: this.#id, to: m.from, term: this.#term, granted: false, preVote: m.preVote });
  }

  #onVote(m: Message<'vote'>): void {
    // A pre-vote asks whether this replica would vote in the next term; a vote, whether it
    // votes in this one, where it has one vote and no leader yet.
    const canVote = m.preVote ? m.term > this.#term : this.#votedFor === m.from || (this.#votedFor === null && this.#leader === null);
    const granted = canVote && this.#log.isUpToDate(m.lastIndex, m.lastTerm);
    if (granted && !m.preVote) {
      this.#votedFor = m.from;
      this.#electionElapsed = 0;
    }
    this.#send({ type: 'voteReply', from: this.#id, to: m.from, term: granted ? m.term : this.#term, granted, preVote: m.preVote });
  }

  #onVoteReply(m: Message<'voteReply'>): void {
    if (!this.#tally || m.preVote !== (this.#role === 'preCandidate')) return;
    // Answers to an earlier campaign carry another term.
    const expectedTerm = m.preVote && m.granted ? this.#term + 1 : this.#term;
    if (m.term !== expectedTerm) return;
    const result = this.#tally.record(m.from, m.granted);
    if (result === 'won') {
      if (m.preVote) this.#campaign('election');
      else this.#becomeLeader();
    } else if (result === 'lost') {
      this.#becomeFollower(this.#term, null);
    }
  }

  #onAppend(m: Message<'append'>): void {
    if (this.#role === 'leader') return; // another leader in this term cannot be: ignore it
    if (this.#role !== 'follower' || this.#leader !== m.from) this.#becomeFollower(this.#term, m.from);
    this.#electionElapsed = 0;
    this.#sinceLeader = 0;
    const outcome = acceptAppend(this.#log, m);
    if (outcome === null) return;
    this.#send({ type: 'appendReply', from: this.#id, to: m.from, term: this.#term, success: outcome.success, index: outcome.index, round: m.round });
  }

  #campaign(kind: CampaignKind): void {
    const config = this.#log.config;
    if (!isVoter(config, this.#id)) return;
    const preVote = kind === 'preVote';
    if (preVote) {
      this.#enterRole('preCandidate', null);
    } else {
      this.#term++;
      this.#votedFor = this.#id;
      this.#enterRole('candidate', null);
    }
    this.#tally = new VoteTally(config.voters);
    if (this.#tally.record(this.#id, true) === 'won') {
      if (preVote) this.#campaign('election');
      else this.#becomeLeader();
      return;
    }
    const term = preVote ? this.#term + 1 : this.#term;
    const { lastIndex, lastTerm } = this.#log;
    for (const to of config.voters) {
      if (to !== this.#id) this.#send({ type: 'vote', from: this.#id, to, term, lastIndex, lastTerm, preVote, transfer: kind === 'transfer' });
    }
  }

  #becomeFollower(term: number, leader: PeerId | null): void {
    if (term > this.#term) {
      this.#term = term;
      this.#votedFor = null;
    }
    // A former leader made no promise to anyone but itself: it may vote at once.
    if (this.#role === 'leader') this.#sinceLeader = this.#settings.electionTicks;
    this.#enterRole('follower', leader);
  }

  #becomeLeader(): void {
    this.#enterRole('leader', this.#id);
    const settings = this.#settings;
    this.#leadership = new Leadership({
      id: this.#id,
      term: this.#term,
      log: this.#log,
      ...settings,
      now: () => this.#now,
      send: (message) => this.#send(message),
      requestSnapshot: (to) => this.#requestSnapshot(to),
      confirmRead: (id, index) => this.#outbox.reads.push({ id, index }),
    });
  }

  #enterRole(role: Role, leader: PeerId | null): void {
    this.#role = role;
    this.#leader = leader;
    this.#tally = null;
    if (role !== 'leader') this.#leadership = null;
    this.#electionElapsed = 0;
    this.#resetElectionTimer();
  }

  #obey(verdict: LeaderVerdict): void {
    if (verdict === 'stepDown' && this.#role === 'leader') this.#becomeFollower(this.#term, null);
  }

  /** The snapshot a follower gets stands where this replica's applied state stands now. */
  #requestSnapshot(to: PeerId): number {
    const index = this.#log.applied;
    const meta: SnapshotMeta = { index, term: this.#log.term(index) as number, config: copyConfig(this.#log.configAt(index)) };
    this.#outbox.snapshots.push({ to, meta });
    return index;
  }

  #leaderOnly(): Leadership {
    if (this.#leadership) return this.#leadership;
    throw new ShoalError('UNAVAILABLE', 'not the leader', { notLeader: true, leader: this.#leader, sent: false });
  }

  #leaderForWrites(): Leadership {
    const leadership = this.#leaderOnly();
    const to = leadership.transferring;
    if (to !== null) throw new ShoalError('UNAVAILABLE', 'leadership is being transferred', { notLeader: true, leader: null, sent: false, transferringTo: to });
    return leadership;
  }

  #resetElectionTimer(): void {
    const ticks = this.#settings.electionTicks;
    const extra = Math.floor(this.#random() * ticks);
    this.#electionTimeout = ticks + (extra >= 0 && extra < ticks ? extra : 0);
  }

  #send(message: RaftMessage): void {
    this.#outbox.messages.push(message);
  }

  #hardState(): HardState {
    return { term: this.#term, votedFor: this.#votedFor, commit: this.#log.commit };
  }

  #publicRole(): RaftRole {
    return this.#role === 'preCandidate' ? 'follower' : this.#role;
  }

  #statusHead(): StatusHead {
    return { role: this.#publicRole(), term: this.#term, leader: this.#leader };
  }
}
