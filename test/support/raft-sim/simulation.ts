/**
 * A deterministic simulation of a Raft group: N simulated hosts on a seeded network that
 * delays, loses, duplicates and reorders messages and partitions replicas (the leader
 * included); replicas crash, losing what they had not persisted, and restart from their
 * disks; clients write, read and change the membership throughout. The SafetyChecker checks
 * every step; at the end the network heals and every member must converge on every
 * acknowledged write. One seed gives one run, exactly.
 */
import type { ClusterConfig, LogEntry, RaftMessage, RaftStatus, SnapshotMeta } from '../../../src/consensus/index.ts';
import { seededRandom, ShoalError } from '../../../src/core/index.ts';
import { SafetyChecker, SimulationViolation } from './checker.ts';
import { SimNetwork, type NetworkProfile } from './network.ts';
import { SimReplica, type AppliedRecord, type HostFault, type ReplicaWorld } from './replica.ts';

export interface SimulationOptions {
  seed: number;
  replicas: number;
  /** Ticks with faults and clients, before the healed run-out. */
  ticks: number;
  hostFault?: HostFault;
  /** Receives a line per notable event (for reproducing a failing seed by eye). */
  trace?: (line: string) => void;
}

export interface SimulationReport {
  seed: number;
  replicas: number;
  ticks: number;
  leaders: number;
  writesAcked: number;
  readsAnswered: number;
  crashes: number;
  partitions: number;
  snapshots: number;
  configChanges: number;
  messages: number;
}


const ELECTION_TICKS = 10;
/** Ticks the healed group gets to converge at the end: liveness, counted in logical time. */
const RUN_OUT_TICKS = 60 * ELECTION_TICKS;
const LOG_MATCHING_EVERY = 100;
const MAX_UNCOMMITTED = 40;

export class Simulation {
  readonly #options: SimulationOptions;
  readonly #random: () => number;
  readonly #network: SimNetwork<RaftMessage>;
  readonly checker = new SafetyChecker();
  readonly #replicas: SimReplica[] = [];
  readonly #byId = new Map<string, SimReplica>();
  /** Writes each replica proposed as leader, by index, until it applies that index. */
  readonly #proposed = new Map<string, Map<number, string>>();
  readonly #restartAt = new Map<string, number>();
  /** Snapshot transfers, which travel beside the network and always end in success or failure. */
  readonly #later = new Map<number, Array<() => void>>();
  readonly #report: SimulationReport;
  #now = 0;
  #believedLeader: { id: string; term: number } | null = null;
  #nextWrite = 0;
  #nextRead = 0;
  #boots = 0;
  #faults = true;

  constructor(options: SimulationOptions) {
    this.#options = options;
    this.#random = seededRandom(options.seed);
    this.#network = new SimNetwork<RaftMessage>(seededRandom(options.seed ^ 0x5eed), this.#profile());
    this.#report = { seed: options.seed, replicas: options.replicas, ticks: 0, leaders: 0, writesAcked: 0, readsAnswered: 0, crashes: 0, partitions: 0, snapshots: 0, configChanges: 0, messages: 0 };
    const ids = Array.from({ length: options.replicas }, (_, i) => `r${i + 1}`);
    const config: ClusterConfig = { voters: ids, learners: [] };
    const world = this.#world();
    const settings = { electionTicks: ELECTION_TICKS, heartbeatTicks: 1 + Math.floor(this.#random() * 3), maxEntriesPerAppend: 1 + Math.floor(this.#random() * 12), maxInflightAppends: 1 + Math.floor(this.#random() * 8) };
    for (const id of ids) {
      const replica = new SimReplica(id, config, world, settings);
      this.#replicas.push(replica);
      this.#byId.set(id, replica);
      this.#proposed.set(id, new Map());
      replica.start(this.#bootSeed());
    }
  }

  run(): SimulationReport {
    for (let t = 0; t < this.#options.ticks; t++) this.#step();
    this.#runOut();
    const checker = this.checker;
    Object.assign(this.#report, { ticks: this.#now, leaders: checker.leaders, writesAcked: checker.writesAcked, readsAnswered: checker.readsAnswered, messages: this.#network.sent });
    return this.#report;
  }

  /** Each seed draws its own network: from calm to lossy and slow. */
  #profile(): NetworkProfile {
    const r = this.#random;
    const maxDelay = 1 + Math.floor(r() * 4);
    return { dropRate: r() * 0.15, duplicateRate: r() * 0.1, minDelay: r() < 0.5 ? 0 : 1, maxDelay };
  }

  #world(): ReplicaWorld {
    return {
      checker: this.checker,
      hostFault: this.#options.hostFault ?? 'none',
      send: (message) => this.#network.send(this.#now, { from: message.from, to: message.to, payload: message }),
      sendSnapshot: (from, to, meta, state) => this.#sendSnapshot(from, to, meta, state),
      applied: (replica, entry) => this.#applied(replica, entry),
      sawStatus: (replica, status) => this.#sawStatus(replica, status),
    };
  }

  #step(): void {
    this.#now++;
    if (this.#faults) this.#injectFaults();
    this.#restartDue();
    if (this.#faults) this.#client();
    for (const replica of this.#shuffled(this.#replicas)) {
      if (!replica.node) continue;
      replica.node.tick();
      replica.process();
    }
    for (const parcel of this.#network.due(this.#now)) this.#deliver(parcel.to, parcel.payload);
    for (const run of this.#later.get(this.#now) ?? []) run();
    this.#later.delete(this.#now);
    for (const replica of this.#replicas) this.#maybeCompact(replica);
    if (this.#now % LOG_MATCHING_EVERY === 0) this.checker.checkLogMatching(this.#replicas.map((r) => r.durableLog()));
  }

  #deliver(to: string, message: RaftMessage): void {
    const replica = this.#byId.get(to);
    if (!replica?.node) return;
    replica.node.step(message);
    replica.process();
  }

  /** A transfer arrives after the network's delay unless lost or cut off; the sender hears how it went. */
  #sendSnapshot(from: string, to: string, meta: SnapshotMeta, state: AppliedRecord[]): void {
    this.#report.snapshots++;
    const { dropRate, maxDelay } = this.#network.profile;
    const lost = this.#random() < dropRate;
    const incarnation = this.#byId.get(from)?.incarnation ?? 0;
    this.#schedule(this.#now + 1 + Math.floor(this.#random() * (maxDelay + 1)), () => {
      const target = this.#byId.get(to);
      const ok = !lost && this.#network.canReach(from, to) && (target?.receiveSnapshot(meta, state) ?? false);
      this.#trace(`snapshot ${from}->${to} at ${meta.index}: ${ok ? 'done' : 'failed'}`);
      const sender = this.#byId.get(from);
      if (!sender?.node || sender.incarnation !== incarnation) return;
      sender.node.snapshotSent(to, ok);
      sender.process();
    });
  }

  #schedule(at: number, run: () => void): void {
    const runs = this.#later.get(at);
    if (runs) runs.push(run);
    else this.#later.set(at, [run]);
  }

  #applied(replica: string, entry: LogEntry): void {
    const proposed = this.#proposed.get(replica);
    const writeId = proposed?.get(entry.index);
    if (writeId === undefined) return;
    proposed?.delete(entry.index);
    if (entry.type === 'command' && (entry.command as { id: string }).id === writeId) {
      this.checker.writeAcked(writeId, entry.index, `${entry.term}/c/${writeId}`);
    }
  }

  #sawStatus(replica: string, status: RaftStatus): void {
    this.#trace(`${replica} is ${status.role} in term ${status.term} (leader ${status.leader ?? '-'})`);
    if (status.role === 'leader' && status.term >= (this.#believedLeader?.term ?? 0)) this.#believedLeader = { id: replica, term: status.term };
  }

  #injectFaults(): void {
    const r = this.#random;
    if (!this.#network.partitioned && r() < 0.005) this.#partition();
    else if (this.#network.partitioned && r() < 0.01) {
      this.#network.heal();
      this.#trace('network healed');
    }
    if (r() < 0.004) {
      const alive = this.#replicas.filter((replica) => replica.alive);
      if (alive.length > 0) this.#crash(alive[Math.floor(r() * alive.length)]);
    }
  }

  #partition(): void {
    const r = this.#random;
    const ids = this.#shuffled(this.#replicas.map((replica) => replica.id));
    const leader = this.#believedLeader?.id;
    const kind = r();
    this.#report.partitions++;
    if (kind < 0.4 && leader) {
      this.#network.partition([[leader]]);
      this.#trace(`partition: leader ${leader} isolated`);
    } else if (kind < 0.8) {
      const cut = 1 + Math.floor(r() * (ids.length - 1));
      this.#network.partition([ids.slice(0, cut)]);
      this.#trace(`partition: ${ids.slice(0, cut).join(',')} | ${ids.slice(cut).join(',')}`);
    } else {
      this.#network.cutOneWay(ids[0], ids[1]);
      this.#trace(`partition: ${ids[0]} cannot reach ${ids[1]}`);
    }
  }

  #crash(replica: SimReplica): void {
    this.#report.crashes++;
    replica.crash();
    this.#proposed.get(replica.id)?.clear();
    this.#restartAt.set(replica.id, this.#now + 1 + Math.floor(this.#random() * 8 * ELECTION_TICKS));
    this.#trace(`${replica.id} crashed`);
  }

  #restartDue(): void {
    for (const [id, at] of this.#restartAt) {
      if (at > this.#now) continue;
      this.#restartAt.delete(id);
      this.#byId.get(id)?.start(this.#bootSeed());
      this.#trace(`${id} restarted`);
    }
  }

  #client(): void {
    const r = this.#random;
    if (r() < 0.3) this.#write();
    if (r() < 0.15) this.#read();
    if (r() < 0.003) this.#changeConfig();
  }

  /** The replica a client would try: the latest leader it heard of, or anyone. */
  #target(): SimReplica | undefined {
    const believed = this.#believedLeader && this.#byId.get(this.#believedLeader.id);
    if (believed?.alive && this.#random() < 0.98) return believed;
    const alive = this.#replicas.filter((replica) => replica.alive);
    return alive[Math.floor(this.#random() * alive.length)];
  }

  #write(): boolean {
    const replica = this.#target();
    if (!replica?.node) return false;
    // A client backs off while the leader has a long tail of uncommitted entries.
    const { lastIndex, commit } = replica.node.status();
    if (lastIndex - commit > MAX_UNCOMMITTED) return false;
    const id = `w${++this.#nextWrite}`;
    return this.#tryLeader(replica, () => {
      const { index } = (replica.node as NonNullable<SimReplica['node']>).propose({ id });
      this.#proposed.get(replica.id)?.set(index, id);
    });
  }

  #read(): void {
    const replica = this.#target();
    if (!replica?.node) return;
    const id = ++this.#nextRead;
    this.checker.readAsked(id);
    this.#tryLeader(replica, () => (replica.node as NonNullable<SimReplica['node']>).read(id));
  }

  /** One voter or learner more or less, as a client asking the leader would. */
  #changeConfig(): void {
    const replica = this.#target();
    if (!replica?.node) return;
    const { voters, learners } = replica.node.status().config;
    const pick = this.#replicas[Math.floor(this.#random() * this.#replicas.length)].id;
    const minVoters = this.#options.replicas >= 5 ? 3 : 2;
    let next: ClusterConfig;
    if (voters.includes(pick)) {
      if (voters.length <= minVoters) return;
      const rest = voters.filter((id) => id !== pick);
      next = this.#random() < 0.5 ? { voters: rest, learners: [...learners, pick] } : { voters: rest, learners };
    } else if (learners.includes(pick)) {
      next = { voters: [...voters, pick], learners: learners.filter((id) => id !== pick) };
    } else {
      next = { voters, learners: [...learners, pick] };
    }
    if (this.#tryLeader(replica, () => replica.node?.proposeConfig(next))) {
      this.#report.configChanges++;
      this.#trace(`config proposed at ${replica.id}: voters ${next.voters.join(',')} learners ${next.learners.join(',')}`);
    }
  }

  /** Runs a leader-only call; refusals a client expects (not leader, change pending) are fine. */
  #tryLeader(replica: SimReplica, call: () => void): boolean {
    try {
      call();
    } catch (err) {
      if (!(err instanceof ShoalError) || !['UNAVAILABLE', 'CONFLICT'].includes(err.code)) throw err;
      return false;
    } finally {
      replica.process();
    }
    return true;
  }

  #maybeCompact(replica: SimReplica): void {
    if (!replica.node || replica.state.length - replica.disk.snapshotMeta.index < 24 || this.#random() > 0.2) return;
    replica.compact(replica.state.length - Math.floor(this.#random() * 8));
  }

  /**
   * The end: faults stop, the network heals, everyone restarts, and the group must settle: one
   * leader with a fresh write of its own term applied on every member, and every write ever
   * acknowledged on every member.
   */
  #runOut(): void {
    this.#faults = false;
    this.#network.heal();
    this.#network.profile = { ...this.#network.profile, dropRate: 0, duplicateRate: 0 };
    for (const id of this.#restartAt.keys()) this.#restartAt.set(id, this.#now);
    let finalWrite: string | null = null;
    for (let t = 0; t < RUN_OUT_TICKS; t++) {
      this.#step();
      const leader = this.#replicas.find((replica) => replica.node?.status().role === 'leader');
      if (!leader?.node) continue;
      if (finalWrite === null && this.#write()) finalWrite = `w${this.#nextWrite}`;
      if (finalWrite !== null && this.#settled(leader, finalWrite)) {
        this.checker.checkLogMatching(this.#replicas.map((r) => r.durableLog()));
        return;
      }
    }
    const states = this.#replicas.map((r) => `${r.id}: ${r.node ? JSON.stringify({ ...r.node.status(), applied: r.state.length }) : 'down'}`);
    throw new SimulationViolation(`liveness: the healed group did not settle within ${RUN_OUT_TICKS} ticks\n${states.join('\n')}`);
  }

  #settled(leader: SimReplica, finalWrite: string): boolean {
    if (!this.checker.acked.some((write) => write.id === finalWrite)) return false;
    const status = (leader.node as NonNullable<SimReplica['node']>).status();
    const members = [...status.config.voters, ...status.config.learners].map((id) => this.#byId.get(id) as SimReplica);
    if (!members.every((member) => member.state.length === status.commit)) return false;
    for (const member of members) this.checker.checkDurable({ id: member.id, lastIndex: member.state.length, keyAt: (i) => member.state[i - 1]?.key });
    return true;
  }

  #bootSeed(): number {
    return (this.#options.seed * 7919 + ++this.#boots * 104729) >>> 0;
  }

  #shuffled<T>(items: T[]): T[] {
    const copy = items.slice();
    for (let i = copy.length - 1; i > 0; i--) {
      const j = Math.floor(this.#random() * (i + 1));
      [copy[i], copy[j]] = [copy[j], copy[i]];
    }
    return copy;
  }

  #trace(line: string): void {
    this.#options.trace?.(`[${this.#now}] ${line}`);
  }
}

export function runSimulation(options: SimulationOptions): SimulationReport {
  return new Simulation(options).run();
}
