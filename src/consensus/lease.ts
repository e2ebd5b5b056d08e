/**
 * The leader's heartbeat rounds and the lease they earn.
 *
 * Every append carries the round in progress when it left; a follower echoes it. Once a
 * majority of voters has answered round r (the leader counting itself), the leader holds a
 * lease until sentAt(r) + electionTicks − 1, measured on its own ticks.
 *
 * Why that is safe: a voter that hears from the leader of its term refuses every (pre-)vote
 * for the next electionTicks of its own ticks (leader stickiness; only a transfer the leader
 * started gets past it), and the leader itself refuses votes while it leads. A replica that
 * restarts with a term behaves as if it had just heard from a leader, so a crash cannot wipe
 * that promise. Every other leader needs a majority, which shares a voter with the majority
 * that answered round r (single-server changes keep that true across configurations). That
 * voter heard round r no earlier than it was sent, so no vote is granted before electionTicks
 * of its ticks have passed since sentAt(r). Two replicas' ticks may be out of phase by up to
 * one tick, and their rates may drift a little: the −1 is the margin for both. While the lease
 * holds, no other leader exists and none has committed anything this leader does not know, so
 * it may answer reads from its state at its commit index without a round trip. It must have
 * committed an entry of its own term first, or its commit index may lag what earlier leaders
 * committed.
 *
 * Beyond the margin the argument fails: clocks that drift more than a tick per election
 * timeout, or a leader whose process stalls (its ticks stop while the others' go on). A host
 * that cannot rule those out sets `leaseReads: false`, and every read goes through ReadIndex,
 * which needs no clock.
 *
 * A leadership transfer forfeits the lease for the rest of the term: the transferee's campaign
 * passes stickiness, so the promise above no longer holds from the moment timeoutNow may be out.
 */

export class LeaderLease {
  readonly #electionTicks: number;
  #round = 0;
  /** When each round not yet superseded by a quorum began, on the leader's ticks. */
  readonly #sentAt = new Map<number, number>();
  #forfeited = false;

  constructor(electionTicks: number) {
    this.#electionTicks = electionTicks;
  }

  /** The round in progress: what appends carry now. */
  get round(): number {
    return this.#round;
  }

  startRound(now: number): number {
    this.#round++;
    this.#sentAt.set(this.#round, now);
    return this.#round;
  }

  forfeit(): void {
    this.#forfeited = true;
  }

  /** Whether the lease holds at tick `now`, given the latest round a majority has answered. */
  validAt(now: number, quorumRound: number): boolean {
    for (const round of this.#sentAt.keys()) {
      if (round >= quorumRound) break;
      this.#sentAt.delete(round);
    }
    if (this.#forfeited) return false;
    const sentAt = this.#sentAt.get(quorumRound);
    return sentAt !== undefined && now < sentAt + this.#electionTicks - 1;
  }
}
