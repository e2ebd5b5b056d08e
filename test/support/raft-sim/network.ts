/**
 * The simulated network between Raft replicas: every parcel gets its own delay (so parcels
 * overtake one another), some are lost, some arrive twice, and partitions cut links. All
 * randomness comes from one seeded source, so a run repeats exactly.
 */

export interface NetworkProfile {
  /** Fraction of parcels lost. */
  dropRate: number;
  /** Fraction of parcels delivered a second time (with its own delay). */
  duplicateRate: number;
  /** Delay in ticks, drawn uniformly from minDelay..maxDelay. */
  minDelay: number;
  maxDelay: number;
}

export interface Parcel<T> {
  from: string;
  to: string;
  payload: T;
}

export class SimNetwork<T> {
  readonly #random: () => number;
  readonly #buckets = new Map<number, Parcel<T>[]>();
  /** Partition side of each replica; replicas on different sides cannot talk. */
  readonly #side = new Map<string, number>();
  /** Links cut one way only, as `from>to`. */
  readonly #cutOneWay = new Set<string>();
  profile: NetworkProfile;
  sent = 0;
  dropped = 0;

  constructor(random: () => number, profile: NetworkProfile) {
    this.#random = random;
    this.profile = profile;
  }

  canReach(from: string, to: string): boolean {
    return (this.#side.get(from) ?? 0) === (this.#side.get(to) ?? 0) && !this.#cutOneWay.has(`${from}>${to}`);
  }

  /** Queues a parcel; returns false when it is lost at once (a cut link or bad luck). */
  send(now: number, parcel: Parcel<T>): boolean {
    this.sent++;
    const { dropRate, duplicateRate } = this.profile;
    if (!this.canReach(parcel.from, parcel.to) || this.#random() < dropRate) {
      this.dropped++;
      return false;
    }
    this.#enqueue(now, parcel);
    if (this.#random() < duplicateRate) this.#enqueue(now, parcel);
    return true;
  }

  /** Parcels due at `now`, in a shuffled order; those whose link was cut meanwhile are lost. */
  due(now: number): Parcel<T>[] {
    const bucket = this.#buckets.get(now);
    if (!bucket) return [];
    this.#buckets.delete(now);
    for (let i = bucket.length - 1; i > 0; i--) {
      const j = Math.floor(this.#random() * (i + 1));
      [bucket[i], bucket[j]] = [bucket[j], bucket[i]];
    }
    const delivered = bucket.filter((parcel) => this.canReach(parcel.from, parcel.to));
    this.dropped += bucket.length - delivered.length;
    return delivered;
  }

  /** Splits the replicas into sides; each group given is one side, everyone else stays on side 0. */
  partition(groups: string[][]): void {
    this.#side.clear();
    groups.forEach((group, i) => group.forEach((id) => this.#side.set(id, i + 1)));
  }

  cutOneWay(from: string, to: string): void {
    this.#cutOneWay.add(`${from}>${to}`);
  }

  heal(): void {
    this.#side.clear();
    this.#cutOneWay.clear();
  }

  get partitioned(): boolean {
    return this.#side.size > 0 || this.#cutOneWay.size > 0;
  }

  #enqueue(now: number, parcel: Parcel<T>): void {
    const { minDelay, maxDelay } = this.profile;
    const at = now + minDelay + Math.floor(this.#random() * (maxDelay - minDelay + 1));
    let bucket = this.#buckets.get(at);
    if (!bucket) this.#buckets.set(at, (bucket = []));
    bucket.push(parcel);
  }
}
