/**
 * The simulated clients: each writes, reads and now and then changes the membership through
 * the replica it takes for the leader. What a client knows is what refusals told it (the
 * `leader` hint) or a guess, so a client may keep talking to a deposed leader that has not
 * noticed yet: the case linearizable reads must survive.
 */
import type { ClusterConfig, RaftNode } from '../../../src/consensus/index.ts';
import { ShoalError } from '../../../src/core/index.ts';
import type { SafetyChecker } from './checker.ts';
import type { SimReplica } from './replica.ts';

/** A client backs off while the leader has this many uncommitted entries or more. */
const MAX_UNCOMMITTED = 40;

export interface ClientWorld {
  readonly random: () => number;
  readonly checker: SafetyChecker;
  readonly replicas: readonly SimReplica[];
  replica(id: string): SimReplica | undefined;
  /** Up and not stalled: a client's call gets through. */
  responsive(replica: SimReplica): boolean;
  /** A write `writeId` went in at `index` on `replica`; it is acknowledged once applied there. */
  proposed(replica: string, index: number, writeId: string): void;
  configProposed(replica: string, config: ClusterConfig): void;
}

export class SimClients {
  readonly #world: ClientWorld;
  /** Whom each client takes for the leader. */
  readonly #targets: string[];
  #nextWrite = 0;
  #nextRead = 0;

  constructor(world: ClientWorld, clients: number) {
    this.#world = world;
    this.#targets = Array.from({ length: clients }, () => this.#anyone());
  }

  /** One tick of client traffic. */
  act(): void {
    const r = this.#world.random;
    const client = Math.floor(r() * this.#targets.length);
    if (r() < 0.3) this.write(this.#target(client), client);
    if (r() < 0.25) this.#read(this.#target(client), client);
    if (r() < 0.003) this.#changeConfig(this.#target(client), client);
  }

  /** Proposes a write through `replica`; returns the write's id when the replica took it. */
  write(replica: SimReplica | undefined, client = 0): string | null {
    const node = replica?.node;
    if (!replica || !node) return null;
    const { lastIndex, commit } = node.status();
    if (lastIndex - commit >= MAX_UNCOMMITTED) return null;
    const id = `w${++this.#nextWrite}`;
    const done = this.#leaderCall(replica, client, (leader) => {
      const { index } = leader.propose({ id });
      this.#world.proposed(replica.id, index, id);
    });
    return done ? id : null;
  }

  #read(replica: SimReplica | undefined, client: number): void {
    if (!replica?.node) return;
    const id = ++this.#nextRead;
    this.#world.checker.readAsked(id);
    this.#leaderCall(replica, client, (leader) => leader.read(id));
  }

  /** One voter or learner more or less. */
  #changeConfig(replica: SimReplica | undefined, client: number): void {
    const node = replica?.node;
    if (!replica || !node) return;
    const { voters, learners } = node.status().config;
    const replicas = this.#world.replicas;
    const pick = replicas[Math.floor(this.#world.random() * replicas.length)].id;
    const minVoters = replicas.length >= 5 ? 3 : 2;
    let next: ClusterConfig;
    if (voters.includes(pick)) {
      if (voters.length <= minVoters) return;
      const rest = voters.filter((id) => id !== pick);
      next = this.#world.random() < 0.5 ? { voters: rest, learners: [...learners, pick] } : { voters: rest, learners };
    } else if (learners.includes(pick)) {
      next = { voters: [...voters, pick], learners: learners.filter((id) => id !== pick) };
    } else {
      next = { voters, learners: [...learners, pick] };
    }
    if (this.#leaderCall(replica, client, (leader) => leader.proposeConfig(next))) this.#world.configProposed(replica.id, next);
  }

  /**
   * Runs a leader-only call. A refusal a client expects (not the leader, a change pending)
   * sends the client where the hint points, or anywhere.
   */
  #leaderCall(replica: SimReplica, client: number, call: (leader: RaftNode) => void): boolean {
    try {
      call(replica.node as RaftNode);
      return true;
    } catch (err) {
      if (!(err instanceof ShoalError) || !['UNAVAILABLE', 'CONFLICT'].includes(err.code)) throw err;
      const hint = (err.details as { leader?: unknown } | undefined)?.leader;
      if (err.code === 'UNAVAILABLE') this.#targets[client] = typeof hint === 'string' ? hint : this.#anyone();
      return false;
    } finally {
      replica.process();
    }
  }

  #target(client: number): SimReplica | undefined {
    const replica = this.#world.replica(this.#targets[client]);
    if (replica && this.#world.responsive(replica)) return replica;
    // A call to a stalled replica times out; the client mostly tries the same one again later.
    if (replica?.alive && this.#world.random() < 0.8) return undefined;
    this.#targets[client] = this.#anyone();
    const other = this.#world.replica(this.#targets[client]);
    return other && this.#world.responsive(other) ? other : undefined;
  }

  #anyone(): string {
    const replicas = this.#world.replicas;
    return replicas[Math.floor(this.#world.random() * replicas.length)].id;
  }
}
