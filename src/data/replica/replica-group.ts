import { RaftNode, type ClusterConfig, type LogEntry, type RaftMessage, type RaftStatus, type Ready, type SnapshotMeta } from '../../consensus/index.ts';
import { ShoalError, silentLogger, toShoalError, type Logger } from '../../core/index.ts';
import type { ReplicaState, ShardCommand, ShardCommandResult, ShardEngine } from '../types.ts';
import type { ReplicaTiming } from './timing.ts';

/** How long a write appended by a leader that lost its role may wait to be applied here before it is failed as uncertain. */
const ORPHANED_PROPOSAL_MS = 3_000;

interface PendingProposal {
  term: number;
  resolve: (result: ShardCommandResult) => void;
  reject: (err: unknown) => void;
}

interface PendingRead {
  resolve: () => void;
  reject: (err: unknown) => void;
}

export interface ReplicaGroupOptions {
  shard: number;
  nodeId: string;
  engine: ShardEngine;
  /** An empty store starts a group of one (this node) when true; otherwise it waits to be given the log by a leader. */
  bootstrap: boolean;
  timing: ReplicaTiming;
  random: () => number;
  /** Sends consensus messages to the other replicas (best effort: they may be lost, as the protocol allows). */
  send: (messages: RaftMessage[]) => void;
  /** Sends a copy of this replica's store to a follower whose log is too far behind; resolves once it is installed there. */
  sendSnapshot: (to: string) => Promise<void>;
  logger?: Logger;
}

/**
 * Starts a shard's log on its founder: a group of one whose history begins with a snapshot at
 * index 1 holding whatever the store already has. Every replica added later therefore starts
 * from a copy of the store, never from a replay that would miss documents older than the log.
 */
async function found(engine: ShardEngine, nodeId: string): Promise<ReplicaState> {
  const genesis: LogEntry = { index: 1, term: 1, type: 'config', config: { voters: [nodeId], learners: [] } };
  await engine.replicaStep({ hardState: { term: 1, votedFor: nodeId, commit: 1 }, entries: [genesis], committed: [genesis] });
  await engine.compactReplicaLog(1);
  const state = await engine.loadReplica();
  if (!state) throw new ShoalError('INTERNAL', 'a founded replica has no stored state');
  return state;
}

/** An answer that tells the router where to go: this replica does not lead the shard. */
export function notLeaderError(shard: number, leader: string | null): ShoalError {
  return new ShoalError('UNAVAILABLE', `this node does not lead shard ${shard}${leader ? `; ${leader} does` : '; an election is under way'}`, { notLeader: true, shard, leader, sent: false });
}

/**
 * One replica of one shard: drives the consensus core with ticks, messages and proposals and
 * carries out its Ready (persist and apply in one engine step, then send), so a write is
 * answered only once a majority of the replicas has it durable and this replica applied it.
 * One step runs at a time; everything that arrives meanwhile goes into the next.
 */
export class ReplicaGroup {
  readonly shard: number;
  readonly #options: ReplicaGroupOptions;
  readonly #logger: Logger;
  readonly #raft: RaftNode;
  #engine: ShardEngine;
  readonly #proposals = new Map<number, PendingProposal>();
  readonly #reads = new Map<number, PendingRead>();
  /** Confirmed reads waiting for the applied index to reach theirs. */
  readonly #confirmedReads: Array<{ id: number; index: number }> = [];
  #nextReadId = 1;
  #applied: number;
  #status: RaftStatus;
  #stepping = false;
  #scheduled = false;
  #closed = false;
  /** Set while a copy from the leader replaces the store: no step may touch the engine. */
  #installing = false;
  /** A store that came up empty and was given nothing yet must not vote: it may have voted before it lost its disk. */
  #amnesiac: boolean;
  #lastLeaderContact = 0;
  #lastTickAt = performance.now();
  #compactedThrough: number;
  readonly #ticker: NodeJS.Timeout;
  readonly #snapshotsInFlight = new Set<string>();
  /** Writes acknowledged only once every member has them: the index each waits for. */
  readonly #allWaiters: Array<{ index: number; resolve: () => void }> = [];

  private constructor(options: ReplicaGroupOptions, raft: RaftNode, applied: number, compactedThrough: number, amnesiac: boolean) {
    this.shard = options.shard;
    this.#options = options;
    this.#logger = (options.logger ?? silentLogger).child({ shard: options.shard });
    this.#engine = options.engine;
    this.#raft = raft;
    this.#applied = applied;
    this.#amnesiac = amnesiac;
    this.#compactedThrough = compactedThrough;
    this.#status = raft.status();
    this.#ticker = setInterval(() => this.#tick(), options.timing.tickMs);
    this.#ticker.unref();
  }

  static async open(options: ReplicaGroupOptions): Promise<ReplicaGroup> {
    let stored = await options.engine.loadReplica();
    if (!stored && options.bootstrap) stored = await found(options.engine, options.nodeId);
    const empty: ClusterConfig = { voters: [], learners: [] };
    const config = stored ? stored.snapshot.config : empty;
    const raft = new RaftNode(
      {
        id: options.nodeId,
        electionTicks: options.timing.electionTicks,
        heartbeatTicks: options.timing.heartbeatTicks,
        random: options.random,
        maxEntriesPerAppend: options.timing.maxEntriesPerAppend,
      },
      {
        hardState: stored?.hardState ?? { term: 0, votedFor: null, commit: 0 },
        snapshot: stored?.snapshot ?? { index: 0, term: 0, config },
        entries: stored?.entries ?? [],
        applied: stored?.applied ?? 0,
      },
    );
    const group = new ReplicaGroup(options, raft, stored?.applied ?? 0, stored?.snapshot.index ?? 0, !stored);
    // A lone voter elects itself at once rather than after an election timeout.
    if (stored && stored.snapshot.config.voters.length === 1 && stored.snapshot.config.voters[0] === options.nodeId && stored.entries.every((e) => e.type !== 'config')) raft.campaign();
    group.#schedule();
    return group;
  }

  get engine(): ShardEngine {
    return this.#engine;
  }

  /** The consensus state now (commit, applied, followers' progress). */
  get status(): RaftStatus {
    return this.#raft.status();
  }

  get isLeader(): boolean {
    return this.#status.role === 'leader' && !this.#installing;
  }

  get leader(): string | null {
    return this.#status.leader;
  }

  /** Milliseconds since a leader was last heard from (0 on the leader): how stale a follower read may be. */
  sinceLeaderContact(): number {
    if (this.isLeader) return 0;
    return this.#lastLeaderContact === 0 ? Number.POSITIVE_INFINITY : Date.now() - this.#lastLeaderContact;
  }

  /** Messages from the other replicas of this shard. */
  receive(messages: readonly RaftMessage[]): void {
    if (this.#closed) return;
    for (const message of messages) {
      if (message.type === 'append' && message.term >= this.#status.term) this.#lastLeaderContact = Date.now();
      // Until it holds a log again, a replica that came up empty stays out of elections.
      if (this.#amnesiac && message.type === 'vote') {
        if (this.#raft.status().lastIndex === 0) continue;
        this.#amnesiac = false;
      }
      this.#raft.step(message);
    }
    this.#schedule();
  }

  /**
   * Appends a command to the log and resolves with its result once it is committed and
   * applied here. Refused at once (not leader: nothing was appended) or, once appended, failed
   * as uncertain when leadership is lost before it commits (another leader may still commit it).
   */
  propose(command: ShardCommand): Promise<ShardCommandResult> {
    if (!this.isLeader) return Promise.reject(notLeaderError(this.shard, this.#status.leader));
    let appended: { index: number; term: number };
    try {
      appended = this.#raft.propose(command);
    } catch (err) {
      return Promise.reject(this.#refusal(err));
    }
    this.#schedule();
    return new Promise((resolve, reject) => this.#proposals.set(appended.index, { term: appended.term, resolve, reject }));
  }

  /** Resolves once a read here would be linearizable: this replica still leads and has applied everything committed before the call. */
  readBarrier(): Promise<void> {
    if (!this.isLeader) return Promise.reject(notLeaderError(this.shard, this.#status.leader));
    const id = this.#nextReadId++;
    // The lease is judged on time as it is now, not as the last timer saw it.
    this.#catchUpTicks();
    if (!this.isLeader) return Promise.reject(notLeaderError(this.shard, this.#status.leader));
    try {
      this.#raft.read(id);
    } catch (err) {
      return Promise.reject(this.#refusal(err));
    }
    this.#schedule();
    return new Promise((resolve, reject) => this.#reads.set(id, { resolve, reject }));
  }

  /**
   * Resolves once every voter and learner has the log up to what is committed now (for writes
   * acknowledged by all); rejects as uncertain after timeoutMs: the write is committed either way.
   */
  allReplicated(timeoutMs: number): Promise<void> {
    const index = this.#raft.status().commit;
    if (this.#everyoneHas(index)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const at = this.#allWaiters.indexOf(waiter);
        if (at >= 0) this.#allWaiters.splice(at, 1);
        reject(new ShoalError('UNAVAILABLE', `shard ${this.shard}: not every replica confirmed the write within ${timeoutMs} ms (it is committed on a majority)`, { uncertain: true }));
      }, timeoutMs);
      const waiter = {
        index,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      this.#allWaiters.push(waiter);
    });
  }

  #everyoneHas(index: number): boolean {
    const status = this.#raft.status();
    return status.role === 'leader' && status.peers.every((p) => p.match >= index);
  }

  #answerAllWaiters(): void {
    if (this.#allWaiters.length === 0) return;
    for (let i = this.#allWaiters.length - 1; i >= 0; i--) {
      if (!this.#everyoneHas(this.#allWaiters[i].index)) continue;
      this.#allWaiters[i].resolve();
      this.#allWaiters.splice(i, 1);
    }
  }

  /** Leader only: a single-server change of the replica set (see the reconciler). */
  changeConfig(config: ClusterConfig): void {
    this.#raft.proposeConfig(config);
    this.#schedule();
  }

  transferLeadership(to: string): void {
    this.#raft.transferLeadership(to);
    this.#schedule();
  }

  /**
   * Replaces this replica's store with a copy of the leader's (written at path by the
   * snapshot receiver), keeping this replica's term and vote.
   */
  async installCopy(meta: SnapshotMeta, replaceStore: () => Promise<ShardEngine>): Promise<void> {
    if (this.#closed) throw new ShoalError('UNAVAILABLE', `shard ${this.shard} is closing here`, { sent: false });
    this.#installing = true;
    try {
      while (this.#stepping) await new Promise((resolve) => setImmediate(resolve));
      const status = this.#raft.status();
      // An older copy would roll back entries this replica acknowledged: refuse it before touching the store.
      if (meta.index <= status.commit) throw new ShoalError('CONFLICT', `a copy at index ${meta.index} is not past this replica's commit ${status.commit}`);
      // Entries past the copy that this log shares with the leader's stay (they may be acknowledged): the core keeps them, so the store must too.
      const old = await this.#engine.loadReplica();
      const shared = old?.entries.some((e) => e.index === meta.index && e.term === meta.term) === true;
      const tail = shared ? (old?.entries ?? []).filter((e) => e.index > meta.index) : [];
      // The vote of this term stays with the store: forgetting it could give a second vote in the same term.
      const hardState = { term: status.term, votedFor: old?.hardState.term === status.term ? old.hardState.votedFor : null, commit: 0 };
      this.#engine = await replaceStore();
      const state = await this.#engine.resetReplica(hardState);
      if (state.applied !== meta.index) this.#logger.warn({ copied: state.applied, announced: meta.index }, 'copied store stands at another index than announced');
      if (tail.length > 0) await this.#engine.replicaStep({ entries: tail, committed: [] });
      this.#applied = state.applied;
      this.#compactedThrough = state.snapshot.index;
      this.#raft.installSnapshot(state.snapshot);
      this.#amnesiac = false;
      this.#logger.info({ index: state.applied }, 'replica rebuilt from a copy of the leader');
    } finally {
      this.#installing = false;
      this.#schedule();
    }
  }

  #tick(): void {
    if (this.#closed || this.#installing) return;
    this.#catchUpTicks();
    this.#schedule();
  }

  /**
   * Ticks as many times as wall-clock time says, however late the timer fires: after a stall (a
   * GC pause, a busy machine) a leader must see its lease as over, never as longer than it was.
   */
  #catchUpTicks(): void {
    const now = performance.now();
    let due = Math.floor((now - this.#lastTickAt) / this.#options.timing.tickMs);
    if (due <= 0) return;
    this.#lastTickAt += due * this.#options.timing.tickMs;
    // Past a few election timeouts, more ticks change nothing.
    due = Math.min(due, this.#options.timing.electionTicks * 4);
    for (let i = 0; i < due; i++) this.#raft.tick();
  }

  #schedule(): void {
    if (this.#scheduled || this.#closed) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      void this.#pump();
    });
  }

  async #pump(): Promise<void> {
    if (this.#stepping || this.#installing || this.#closed) return;
    this.#stepping = true;
    try {
      while (!this.#closed && !this.#installing && this.#raft.hasReady()) await this.#handle(this.#raft.ready());
    } catch (err) {
      // A step the disk refused: nothing of it is durable, so the replica stops taking part until restarted.
      this.#logger.error({ err: toShoalError(err).message }, 'replica step failed; this replica stops');
      this.#failAll(new ShoalError('UNAVAILABLE', `shard ${this.shard} replica failed: ${toShoalError(err).message}`, { uncertain: true }));
      this.#closed = true;
      clearInterval(this.#ticker);
    } finally {
      this.#stepping = false;
    }
  }

  async #handle(ready: Ready): Promise<void> {
    // A leader's appends may go before its own disk write: the core counts this replica for
    // commit only once the step persisted its entries. Every other message (a vote, an append's
    // answer) waits for the disk, as the contract's rule says.
    const early = ready.messages.filter((m) => m.type === 'append');
    const late = early.length === 0 ? ready.messages : ready.messages.filter((m) => m.type !== 'append');
    if (early.length > 0) this.#options.send(early);
    let results: ShardCommandResult[] = [];
    if (ready.hardState || ready.entries.length > 0 || ready.committed.length > 0) {
      results = await this.#engine.replicaStep({ hardState: ready.hardState, entries: ready.entries, committed: ready.committed });
    }
    if (late.length > 0) this.#options.send(late);
    ready.committed.forEach((entry, i) => {
      this.#applied = entry.index;
      const pending = this.#proposals.get(entry.index);
      if (!pending) return;
      this.#proposals.delete(entry.index);
      if (pending.term === entry.term) pending.resolve(results[i]);
      // Another entry took the index: the proposal was dropped with its leader's log and never applied.
      else pending.reject(new ShoalError('UNAVAILABLE', `shard ${this.shard} changed leader before the write committed`, { sent: false, notLeader: true, leader: this.#status.leader }));
    });
    for (const read of ready.reads) this.#confirmedReads.push(read);
    this.#answerReads();
    for (const { to } of ready.snapshots) this.#startSnapshot(to);
    if (ready.status) this.#statusChanged(ready.status);
    this.#raft.advance(ready);
    this.#answerAllWaiters();
  }

  #answerReads(): void {
    for (let i = this.#confirmedReads.length - 1; i >= 0; i--) {
      const { id, index } = this.#confirmedReads[i];
      if (index > this.#applied) continue;
      this.#confirmedReads.splice(i, 1);
      this.#reads.get(id)?.resolve();
      this.#reads.delete(id);
    }
  }

  #statusChanged(status: RaftStatus): void {
    const was = this.#status;
    this.#status = status;
    if (status.leader !== was.leader || status.term !== was.term) {
      this.#logger.info({ role: status.role, term: status.term, leader: status.leader }, 'shard leadership changed');
    }
    if (was.role === 'leader' && status.role !== 'leader') {
      // Reads must go to the new leader now. Writes already appended may still commit under it
      // (a planned hand-over always does): each is answered when this replica applies its
      // index, or refused when another entry takes the index, or, after a while with neither,
      // failed as uncertain.
      this.#failReads();
      const pending = [...this.#proposals.keys()];
      if (pending.length > 0) {
        const timer = setTimeout(() => this.#failProposals(pending, new ShoalError('UNAVAILABLE', `shard ${this.shard} lost its leader before the write was known committed`, { uncertain: true, notLeader: true, leader: this.#status.leader })), ORPHANED_PROPOSAL_MS);
        timer.unref();
      }
    }
  }

  #failProposals(indexes: readonly number[], error: ShoalError): void {
    for (const index of indexes) {
      const pending = this.#proposals.get(index);
      if (!pending) continue;
      this.#proposals.delete(index);
      pending.reject(error);
    }
  }

  #failReads(): void {
    const readError = notLeaderError(this.shard, this.#status.leader);
    for (const read of this.#reads.values()) read.reject(readError);
    this.#reads.clear();
    this.#confirmedReads.length = 0;
  }

  #failAll(proposalError: ShoalError): void {
    this.#failProposals([...this.#proposals.keys()], proposalError);
    this.#failReads();
  }

  #startSnapshot(to: string): void {
    if (this.#snapshotsInFlight.has(to)) return;
    this.#snapshotsInFlight.add(to);
    this.#options.sendSnapshot(to).then(
      () => this.#snapshotDone(to, true),
      (err: unknown) => {
        this.#logger.warn({ to, err: toShoalError(err).message }, 'sending a copy of the shard failed; will retry');
        this.#snapshotDone(to, false);
      },
    );
  }

  #snapshotDone(to: string, ok: boolean): void {
    this.#snapshotsInFlight.delete(to);
    if (this.#closed) return;
    this.#raft.snapshotSent(to, ok);
    this.#schedule();
  }

  #refusal(err: unknown): ShoalError {
    const e = toShoalError(err);
    if (e.code === 'UNAVAILABLE') return notLeaderError(this.shard, this.#status.leader);
    return e;
  }

  /**
   * Folds applied entries into the store's snapshot point so the log stays short. The leader
   * keeps what its live followers still need, up to `maxRetained` entries; a follower further
   * behind than that is sent a copy instead.
   */
  async compact(policy: { keep: number; every: number; maxRetained: number }): Promise<void> {
    if (this.#closed || this.#installing) return;
    const status = this.#raft.status();
    let through = this.#applied - policy.keep;
    if (status.role === 'leader') {
      const needed = Math.min(...status.peers.filter((p) => p.silentTicks < this.#options.timing.electionTicks * 4).map((p) => p.match));
      if (Number.isFinite(needed)) through = Math.min(through, Math.max(needed, this.#applied - policy.maxRetained));
    }
    if (through - this.#compactedThrough < policy.every) return;
    while (this.#stepping) await new Promise((resolve) => setImmediate(resolve));
    if (this.#closed || this.#installing) return;
    const meta = await this.#engine.compactReplicaLog(through);
    this.#compactedThrough = meta.index;
    this.#raft.compact(meta.index);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#ticker);
    while (this.#stepping) await new Promise((resolve) => setImmediate(resolve));
    this.#failAll(new ShoalError('UNAVAILABLE', `shard ${this.shard} is closing here`, { uncertain: true }));
  }
}
