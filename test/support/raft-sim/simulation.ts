/**
 * A deterministic simulation of a Raft group: N simulated hosts on a seeded network that
 * delays, loses, duplicates and reorders messages and partitions replicas (the leader
 * included); replicas crash, losing what they had not persisted, and restart from their
 * disks; clients write, read and change the membership throughout. The SafetyChecker checks
 * every step; at the end the network heals and every member must converge on every
 * acknowledged write. One seed gives one run, exactly.
 */
import type { ClusterConfig, LogEntry, RaftMessage, RaftStatus, SnapshotMeta } from '../../../src/consensus/index.ts';
import { seededRandom } from '../../../src/core/index.ts';
import { SafetyChecker, SimulationViolation } from './checker.ts';
import { SimClients } from './clients.ts';
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
const CLIENTS = 3;

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
  /** The leader as the fault injector knows it (it sees everything; clients do not). */
  #believedLeader: { id: string; term: number } | null = null;
  readonly #clients: SimClients;
  #boots = 0;
  #faults = true;
  /** A third of the seeds run in a storm: partitions and crashes, of the leader above all, come often. */
  readonly #storm: boolean;
  /**
   * Whether replicas pause (a stalled process: no ticks, no messages, then all at once). A pause
   * stops a replica's clock, which a lease cannot survive, so only seeds that read without the
   * lease (ReadIndex, which must survive it) pause.
   */
  readonly #pauses: boolean;
  /** Paused replicas: until when, and the messages held for them meanwhile. */
  readonly #paused = new Map<string, { until: number; held: Array<() => void> }>();

  constructor(options: SimulationOptions) {
    this.#options = options;
    this.#random = seededRandom(options.seed);
    this.#network = new SimNetwork<RaftMessage>(seededRandom(options.seed ^ 0x5eed), this.#profile());
    this.#storm = this.#random() < 1 / 3;
    const leaseReads = this.#random() < 0.5;
    this.#report = { seed: options.seed, replicas: options.replicas, ticks: 0, leaders: 0, writesAcked: 0, readsAnswered: 0, crashes: 0, partitions: 0, snapshots: 0, configChanges: 0, messages: 0 };
    const ids = Array.from({ length: options.replicas }, (_, i) => `r${i + 1}`);
    const config: ClusterConfig = { voters: ids, learners: [] };
    const world = this.#world();
    this.#pauses = !leaseReads;
    const settings = { leaseReads, electionTicks: ELECTION_TICKS, heartbeatTicks: 1 + Math.floor(this.#random() * 3), maxEntriesPerAppend: 1 + Math.floor(this.#random() * 12), maxInflightAppends: 1 + Math.floor(this.#random() * 8) };
    for (const id of ids) {
      const replica = new SimReplica(id, config, world, settings);
      this.#replicas.push(replica);
      this.#byId.set(id, replica);
      this.#proposed.set(id, new Map());
      replica.start(this.#bootSeed());
    }
    this.#clients = new SimClients(
      {
        random: this.#random,
        checker: this.checker,
        replicas: this.#replicas,
        replica: (id) => this.#byId.get(id),
        responsive: (replica) => replica.alive && !this.#paused.has(replica.id),
        proposed: (replica, index, writeId) => this.#proposed.get(replica)?.set(index, writeId),
        configProposed: (replica, next) => {
          this.#report.configChanges++;
          this.#trace(`config proposed at ${replica}: voters ${next.voters.join(',')} learners ${next.learners.join(',')}`);
        },
      },
      CLIENTS,
    );
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
    this.#resumeDue();
    if (this.#faults) this.#clients.act();
    for (const replica of this.#shuffled(this.#replicas)) {
      if (!replica.node || this.#paused.has(replica.id)) continue;
      replica.node.tick();
      replica.process();
    }
    // Answers sent with no delay arrive in this same tick, so deliver until nothing is due.
    for (let due = this.#network.due(this.#now); due.length > 0; due = this.#network.due(this.#now)) {
      for (const parcel of due) this.#deliver(parcel.to, parcel.payload);
    }
    for (const run of this.#later.get(this.#now) ?? []) run();
    this.#later.delete(this.#now);
    for (const replica of this.#replicas) this.#maybeCompact(replica);
    if (this.#now % LOG_MATCHING_EVERY === 0) this.checker.checkLogMatching(this.#replicas.map((r) => r.durableLog()));
  }

  #deliver(to: string, message: RaftMessage): void {
    const pause = this.#paused.get(to);
    if (pause) {
      pause.held.push(() => this.#deliver(to, message));
      return;
    }
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
      const ok = !lost && !this.#paused.has(to) && this.#network.canReach(from, to) && (target?.receiveSnapshot(meta, state) ?? false);
      this.#trace(`snapshot ${from}->${to} at ${meta.index}: ${ok ? 'done' : 'failed'}`);
      const report = () => {
        const sender = this.#byId.get(from);
        if (!sender?.node || sender.incarnation !== incarnation) return;
        sender.node.snapshotSent(to, ok);
        sender.process();
      };
      const senderPause = this.#paused.get(from);
      if (senderPause) senderPause.held.push(report);
      else report();
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
    const storm = this.#storm;
    // A new partition may replace one in force: a replica that timed out on one side then
    // meets replicas that just heard from the leader, which is what stickiness is for.
    if (r() < (storm ? 0.03 : 0.005)) this.#partition();
    else if (this.#network.partitioned && r() < (storm ? 0.05 : 0.01)) {
      this.#network.heal();
      this.#trace('network healed');
    }
    if (r() < (storm ? 0.012 : 0.004)) {
      const alive = this.#replicas.filter((replica) => replica.alive);
      const leader = alive.find((replica) => replica.id === this.#believedLeader?.id);
      const victim = leader && r() < 0.5 ? leader : alive[Math.floor(r() * alive.length)];
      if (victim) this.#crash(victim);
    }
    if (this.#pauses && r() < (storm ? 0.008 : 0.003)) this.#pause();
  }

  /** Stalls a replica, the leader more often than not, for long enough that others may elect a new one. */
  #pause(): void {
    const r = this.#random;
    const alive = this.#replicas.filter((replica) => replica.alive && !this.#paused.has(replica.id));
    const leader = alive.find((replica) => replica.id === this.#believedLeader?.id);
    const victim = leader && r() < 0.7 ? leader : alive[Math.floor(r() * alive.length)];
    if (!victim) return;
    this.#paused.set(victim.id, { until: this.#now + Math.floor((2 + r() * 3) * ELECTION_TICKS), held: [] });
    this.#trace(`${victim.id} paused`);
  }

  #resumeDue(): void {
    for (const [id, pause] of this.#paused) {
      if (pause.until > this.#now && this.#faults) continue;
      this.#paused.delete(id);
      this.#trace(`${id} resumed with ${pause.held.length} messages held`);
      // A stalled process works through its backlog in no set order, client calls among it.
      for (const run of pause.held) this.#schedule(this.#now + Math.floor(this.#random() * 4), run);
    }
  }

  #partition(): void {
    const r = this.#random;
    this.#network.heal();
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
    this.#paused.delete(replica.id);
    replica.crash();
    this.#proposed.get(replica.id)?.clear();
    this.#restartAt.set(replica.id, this.#now + 1 + Math.floor(this.#random() * (this.#storm ? 3 : 8) * ELECTION_TICKS));
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
    let writtenAt = 0;
    for (let t = 0; t < RUN_OUT_TICKS; t++) {
      this.#step();
      const leader = this.#replicas.find((replica) => replica.node?.status().role === 'leader');
      if (!leader?.node) continue;
      // A write to a leader that loses its term is never acknowledged: the client tries again.
      const retry = finalWrite !== null && this.#now - writtenAt > 3 * ELECTION_TICKS && !this.#isAcked(finalWrite);
      if (finalWrite === null || retry) {
        finalWrite = this.#clients.write(leader) ?? finalWrite;
        writtenAt = this.#now;
      }
      if (finalWrite !== null && this.#settled(leader, finalWrite)) {
        this.checker.checkLogMatching(this.#replicas.map((r) => r.durableLog()));
        return;
      }
    }
    const states = this.#replicas.map((r) => `${r.id}: ${r.node ? JSON.stringify({ ...r.node.status(), applied: r.state.length }) : 'down'}`);
    throw new SimulationViolation(`liveness: the healed group did not settle within ${RUN_OUT_TICKS} ticks\n${states.join('\n')}`);
  }

  #isAcked(writeId: string): boolean {
    return this.checker.acked.at(-1)?.id === writeId || this.checker.acked.some((write) => write.id === writeId);
  }

  #settled(leader: SimReplica, finalWrite: string): boolean {
    if (!this.#isAcked(finalWrite)) return false;
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
