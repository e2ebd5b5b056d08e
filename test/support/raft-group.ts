/**
 * A small Raft group for focused tests: every replica's host follows the Ready rule (persist,
 * send, apply, advance) on an in-memory disk, and the test decides when messages move, which
 * are lost (isolation, a filter) and when time passes. Nothing here is random but the seeded
 * election timeouts.
 */
import { RaftNode, type ClusterConfig, type HardState, type LogEntry, type RaftMessage, type RaftOptions, type SnapshotMeta } from '../../src/consensus/index.ts';
import { seededRandom } from '../../src/core/index.ts';

export interface GroupDisk {
  hardState: HardState;
  snapshot: SnapshotMeta;
  /** The applied entries the snapshot stands for (the host's state at it). */
  snapshotState: LogEntry[];
  entries: LogEntry[];
}

export interface GroupOptions {
  voters: string[];
  learners?: string[];
  /** Replicas booted with the same initial config but not in it (to be added later). */
  extra?: string[];
  electionTicks?: number;
  heartbeatTicks?: number;
  seed?: number;
  /** Options every replica gets on top (maxEntriesPerAppend, leaseReads, …). */
  raft?: Partial<RaftOptions>;
}

export class RaftGroup {
  readonly ids: string[];
  readonly nodes = new Map<string, RaftNode>();
  readonly disks = new Map<string, GroupDisk>();
  /** Entries each replica's host applied, in order (what survives in its state). */
  readonly applied = new Map<string, LogEntry[]>();
  readonly reads = new Map<string, Array<{ id: number; index: number }>>();
  readonly snapshots: Array<{ from: string; to: string; meta: SnapshotMeta }> = [];
  /** Messages sent and not yet delivered. */
  queue: RaftMessage[] = [];
  /** Returns false for a message to lose. */
  filter: (message: RaftMessage) => boolean = () => true;
  readonly #isolated = new Set<string>();
  readonly #options: GroupOptions;
  #boots = 0;

  constructor(options: GroupOptions) {
    this.#options = options;
    const config: ClusterConfig = { voters: options.voters, learners: options.learners ?? [] };
    this.ids = [...config.voters, ...config.learners, ...(options.extra ?? [])];
    for (const id of this.ids) {
      this.disks.set(id, { hardState: { term: 0, votedFor: null, commit: 0 }, snapshot: { index: 0, term: 0, config }, snapshotState: [], entries: [] });
      this.start(id);
    }
  }

  get electionTicks(): number {
    return this.#options.electionTicks ?? 10;
  }

  node(id: string): RaftNode {
    const node = this.nodes.get(id);
    if (!node) throw new Error(`${id} is down`);
    return node;
  }

  /** Boots `id` from its disk (a restart after crash()). */
  start(id: string): void {
    const disk = this.disks.get(id) as GroupDisk;
    const options = this.#options;
    const node = new RaftNode(
      { id, electionTicks: this.electionTicks, heartbeatTicks: options.heartbeatTicks ?? 2, random: seededRandom((options.seed ?? 1) * 1000 + ++this.#boots), ...options.raft },
      { hardState: { ...disk.hardState }, snapshot: disk.snapshot, entries: disk.entries.slice(), applied: disk.snapshot.index },
    );
    this.nodes.set(id, node);
    this.applied.set(id, disk.snapshotState.slice());
    this.reads.set(id, []);
  }

  /** Loses everything `id` had not persisted. */
  crash(id: string): void {
    this.nodes.delete(id);
    this.queue = this.queue.filter((m) => m.to !== id);
  }

  isolate(...ids: string[]): void {
    for (const id of ids) this.#isolated.add(id);
  }

  heal(): void {
    this.#isolated.clear();
    this.filter = () => true;
  }

  /** Drains every Ready of `id` by the contract's rule. */
  process(id: string): void {
    const node = this.nodes.get(id);
    if (!node) return;
    const disk = this.disks.get(id) as GroupDisk;
    while (node.hasReady()) {
      const ready = node.ready();
      if (ready.hardState) disk.hardState = { ...ready.hardState };
      if (ready.entries.length > 0) {
        disk.entries.length = ready.entries[0].index - disk.snapshot.index - 1;
        disk.entries.push(...ready.entries);
      }
      this.queue.push(...ready.messages);
      this.applied.get(id)?.push(...ready.committed);
      this.reads.get(id)?.push(...ready.reads);
      for (const snapshot of ready.snapshots) this.snapshots.push({ from: id, ...snapshot });
      node.advance(ready);
    }
  }

  processAll(): void {
    for (const id of this.nodes.keys()) this.process(id);
  }

  /** Delivers what is queued now (not what that provokes); returns how many arrived. */
  deliver(): number {
    this.processAll();
    const batch = this.queue;
    this.queue = [];
    let delivered = 0;
    for (const message of batch) {
      if (this.#isolated.has(message.from) || this.#isolated.has(message.to) || !this.filter(message)) continue;
      const node = this.nodes.get(message.to);
      if (!node) continue;
      node.step(message);
      this.process(message.to);
      delivered++;
    }
    return delivered;
  }

  /** Delivers until the network is quiet. */
  settle(maxRounds = 200): void {
    this.processAll();
    for (let round = 0; round < maxRounds && this.queue.length > 0; round++) this.deliver();
  }

  /** Ticks every replica that is up (or only `only`) `ticks` times, settling the network after each tick. */
  tick(ticks = 1, only?: string[]): void {
    for (let t = 0; t < ticks; t++) {
      for (const [id, node] of this.nodes) if (!only || only.includes(id)) node.tick();
      this.settle();
    }
  }

  /** Makes `id` leader by an election it starts now; returns its term. */
  elect(id: string): number {
    this.node(id).campaign();
    this.settle();
    const status = this.node(id).status();
    if (status.role !== 'leader') throw new Error(`${id} did not win: ${JSON.stringify(status)}`);
    return status.term;
  }

  /**
   * The host of `id` compacts: its applied state up to `index` becomes the snapshot on disk
   * (term and config taken from what it applied) and the log before it goes.
   */
  compact(id: string, index: number): void {
    const disk = this.disks.get(id) as GroupDisk;
    const applied = this.applied.get(id) ?? [];
    this.node(id).compact(index);
    const upTo = applied.filter((entry) => entry.index <= index);
    const last = upTo.at(-1);
    if (!last || last.index !== index) throw new Error(`${id} has not applied ${index}`);
    const config = upTo.findLast((entry) => entry.type === 'config');
    disk.snapshot = { index, term: last.term, config: config?.type === 'config' ? config.config : disk.snapshot.config };
    disk.entries = disk.entries.filter((entry) => entry.index > index);
    disk.snapshotState = upTo;
  }

  /**
   * `from`'s host sends `to` the snapshot it was asked for: `to`'s host replaces its state and
   * keeps its stored entries after the snapshot only if it holds the snapshot's last entry.
   */
  sendSnapshot(from: string, to: string, meta: SnapshotMeta): void {
    const disk = this.disks.get(to) as GroupDisk;
    const stored = disk.entries.find((entry) => entry.index === meta.index);
    disk.entries = stored?.term === meta.term ? disk.entries.filter((entry) => entry.index > meta.index) : [];
    disk.snapshot = meta;
    disk.snapshotState = (this.applied.get(from) ?? []).filter((entry) => entry.index <= meta.index);
    this.applied.set(to, disk.snapshotState.slice());
    this.node(to).installSnapshot(meta);
    this.process(to);
  }

  /** Replicas that are up and say they lead. */
  leaders(): string[] {
    return [...this.nodes].filter(([, node]) => node.status().role === 'leader').map(([id]) => id);
  }

  /** Commands in `id`'s applied sequence. */
  commands(id: string): unknown[] {
    return (this.applied.get(id) ?? []).flatMap((entry) => (entry.type === 'command' ? [entry.command] : []));
  }

  /** The log on `id`'s disk as (index, term) pairs. */
  logOf(id: string): Array<[number, number]> {
    return (this.disks.get(id) as GroupDisk).entries.map((entry) => [entry.index, entry.term]);
  }
}
