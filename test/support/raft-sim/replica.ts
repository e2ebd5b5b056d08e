/**
 * One simulated host around a RaftNode: a disk that survives crashes (hard state, log,
 * snapshot) and an applied state that does not. It follows the Ready rule of the consensus
 * contract to the letter, since what a crash may lose depends on it; `hostFault` breaks one
 * step of it on purpose, to show that the checks notice.
 */
import { RaftNode, type ClusterConfig, type HardState, type LogEntry, type RaftMessage, type RaftStatus, type Ready, type SnapshotMeta } from '../../../src/consensus/index.ts';
import { seededRandom } from '../../../src/core/index.ts';
import { entryKey, SimulationViolation, type DurableLog, type SafetyChecker } from './checker.ts';

/** One applied entry in a host's state: the state is the sequence of what was applied. */
export interface AppliedRecord {
  key: string;
  term: number;
  config?: ClusterConfig;
}

export interface SimDisk {
  hardState: HardState;
  snapshotMeta: SnapshotMeta;
  snapshotState: AppliedRecord[];
  entries: LogEntry[];
}

/**
 * 'lostWrites': the host writes entries without syncing them, for twenty Readies at a time,
 * so a crash loses entries it already acknowledged.
 */
export type HostFault = 'none' | 'lostWrites';

const READIES_PER_SYNC = 20;

/** What a host reaches outside itself. */
export interface ReplicaWorld {
  readonly checker: SafetyChecker;
  readonly hostFault: HostFault;
  send(message: RaftMessage): void;
  sendSnapshot(from: string, to: string, meta: SnapshotMeta, state: AppliedRecord[]): void;
  applied(replica: string, entry: LogEntry): void;
  sawStatus(replica: string, status: RaftStatus): void;
}

export interface ReplicaSettings {
  electionTicks: number;
  heartbeatTicks: number;
  maxEntriesPerAppend: number;
  maxInflightAppends: number;
  leaseReads: boolean;
}

export class SimReplica {
  readonly id: string;
  readonly #world: ReplicaWorld;
  readonly #settings: ReplicaSettings;
  disk: SimDisk;
  node: RaftNode | null = null;
  /** The applied state, lost in a crash (rebuilt from the snapshot and the log). */
  state: AppliedRecord[] = [];
  incarnation = 0;
  #reads: Array<{ id: number; index: number }> = [];
  /** With hostFault 'lostWrites': the lowest index written since the last sync, and Readies since. */
  #unsyncedFrom = Infinity;
  #readiesSinceSync = 0;

  constructor(id: string, config: ClusterConfig, world: ReplicaWorld, settings: ReplicaSettings) {
    this.id = id;
    this.#world = world;
    this.#settings = settings;
    this.disk = { hardState: { term: 0, votedFor: null, commit: 0 }, snapshotMeta: { index: 0, term: 0, config }, snapshotState: [], entries: [] };
  }

  get alive(): boolean {
    return this.node !== null;
  }

  /** Boots a replica from what is on disk. */
  start(seed: number): void {
    const { hardState, snapshotMeta, entries } = this.disk;
    this.state = this.disk.snapshotState.slice();
    this.#reads = [];
    this.node = new RaftNode(
      { id: this.id, ...this.#settings, random: seededRandom(seed) },
      { hardState: { ...hardState }, snapshot: snapshotMeta, entries: entries.slice(), applied: snapshotMeta.index },
    );
  }

  crash(): void {
    if (this.#unsyncedFrom !== Infinity) {
      this.disk.entries.length = Math.max(0, Math.min(this.disk.entries.length, this.#unsyncedFrom - this.disk.snapshotMeta.index - 1));
      this.#unsyncedFrom = Infinity;
    }
    this.node = null;
    this.state = [];
    this.#reads = [];
    this.incarnation++;
  }

  /** Drains every Ready, one at a time, in the contract's order. */
  process(): void {
    const node = this.node;
    if (!node) return;
    while (node.hasReady()) {
      const ready = node.ready();
      this.#handle(ready);
      node.advance(ready);
    }
  }

  /** The log as the disk holds it: snapshot state, then stored entries. */
  durableLog(): DurableLog {
    const { snapshotMeta, snapshotState, entries } = this.disk;
    const base = snapshotMeta.index;
    return {
      id: this.id,
      lastIndex: base + entries.length,
      keyAt: (index) => {
        if (index <= base) return snapshotState[index - 1]?.key;
        const entry = entries[index - base - 1];
        return entry && entryKey(entry);
      },
    };
  }

  /** Makes the applied state up to `index` the durable snapshot and drops the log before it. */
  compact(index: number): void {
    const node = this.node;
    const base = this.disk.snapshotMeta.index;
    if (!node || index <= base || index > this.state.length) return;
    node.compact(index);
    let config = this.disk.snapshotMeta.config;
    for (let i = index; i > base; i--) {
      const record = this.state[i - 1];
      if (record.config) {
        config = record.config;
        break;
      }
    }
    this.disk.snapshotMeta = { index, term: this.state[index - 1].term, config };
    this.disk.snapshotState = this.state.slice(0, index);
    this.disk.entries = this.disk.entries.slice(index - base);
  }

  /**
   * A leader's snapshot arrived. The host keeps its stored entries after the snapshot only if
   * it holds the snapshot's last entry (the node does the same with its log). Returns whether
   * the transfer counts as done.
   */
  receiveSnapshot(meta: SnapshotMeta, state: AppliedRecord[]): boolean {
    const node = this.node;
    if (!node) return false;
    if (meta.index <= node.status().commit) return true;
    const base = this.disk.snapshotMeta.index;
    const stored = this.disk.entries[meta.index - base - 1];
    this.disk.entries = stored && stored.term === meta.term ? this.disk.entries.slice(meta.index - base) : [];
    this.disk.snapshotMeta = meta;
    this.disk.snapshotState = state.slice();
    this.state = state.slice();
    node.installSnapshot(meta);
    this.process();
    return true;
  }

  #handle(ready: Ready): void {
    const checker = this.#world.checker;
    // The applied state stands at the snapshot's index until this Ready's entries are applied.
    for (const { to, meta } of ready.snapshots) {
      if (this.state.length !== meta.index) throw new SimulationViolation(`${this.id} was asked for a snapshot at ${meta.index} with its state at ${this.state.length}`);
      this.#world.sendSnapshot(this.id, to, meta, this.state.slice());
    }
    // 1. persist
    if (ready.hardState) this.disk.hardState = { ...ready.hardState };
    if (ready.entries.length > 0) this.#persist(ready.entries);
    if (ready.status) {
      this.#world.sawStatus(this.id, ready.status);
      if (ready.status.role === 'leader') checker.sawLeader(ready.status.term, this.durableLog());
    }
    if (ready.hardState) checker.sawCommit(ready.hardState.term, ready.hardState.commit, this.durableLog());
    // 2. send
    for (const message of ready.messages) this.#world.send(message);
    // 3. apply, then answer the reads whose index is applied
    for (const entry of ready.committed) this.#apply(entry);
    this.#reads.push(...ready.reads);
    this.#answerReads();
  }

  #persist(entries: LogEntry[]): void {
    const base = this.disk.snapshotMeta.index;
    const keep = entries[0].index - base - 1;
    if (keep < 0 || keep > this.disk.entries.length) {
      throw new SimulationViolation(`${this.id} was handed entries from ${entries[0].index} with its disk at ${base}+${this.disk.entries.length}`);
    }
    this.disk.entries.length = keep;
    this.disk.entries.push(...entries);
    if (this.#world.hostFault !== 'lostWrites') return;
    this.#unsyncedFrom = Math.min(this.#unsyncedFrom, entries[0].index);
    if (++this.#readiesSinceSync < READIES_PER_SYNC) return;
    this.#unsyncedFrom = Infinity;
    this.#readiesSinceSync = 0;
  }

  #apply(entry: LogEntry): void {
    if (entry.index !== this.state.length + 1) throw new SimulationViolation(`${this.id} was handed entry ${entry.index} to apply with its state at ${this.state.length}`);
    const key = entryKey(entry);
    this.#world.checker.sawApplied(this.id, entry.index, key);
    this.state.push(entry.type === 'config' ? { key, term: entry.term, config: entry.config } : { key, term: entry.term });
    this.#world.applied(this.id, entry);
  }

  /**
   * Answers each read whose index is applied from the state as it stood at that index (as a
   * versioned store could): the oldest answer the contract allows, so a read index that is
   * too low shows.
   */
  #answerReads(): void {
    const applied = this.state.length;
    const waiting: Array<{ id: number; index: number }> = [];
    for (const read of this.#reads) {
      if (read.index > applied) waiting.push(read);
      else this.#world.checker.readAnswered(read.id, this.id, read.index, (index) => (index <= read.index ? this.state[index - 1]?.key : undefined));
    }
    this.#reads = waiting;
  }
}
