/**
 * Network faults a process applies to its own traffic, peer by peer: partitions (one-way or
 * both ways), added latency and lost messages. A FaultPlan only holds the faults; a transport
 * wrapped by `withFaults` reads it on every message. Faults are set and cleared at run time
 * and may expire by themselves, so `shoal chaos` can cut a link for ten seconds on a running
 * node and the same code serves deterministic tests (clock, timers and random source are
 * injectable).
 */

/** Which traffic a partition cuts, seen from the process holding the plan. */
export type FaultDirection = 'out' | 'in' | 'both';

/** What happens to the traffic with one peer. Every field is optional; an empty fault does nothing. */
export interface PeerFault {
  /**
   * Cuts the link: 'out' fails requests and one-way messages to the peer as if it were
   * unreachable (UNAVAILABLE, `sent: false`); 'in' drops what the peer sends here before any
   * handler sees it (the peer's request times out); 'both' does both.
   */
  readonly partition?: FaultDirection;
  /**
   * With a partition that cuts what comes in: refuse the peer's requests at once
   * (UNAVAILABLE, not sent), as a host answering with a reset does, instead of dropping them
   * so that the peer waits out its timeout.
   */
  readonly reject?: boolean;
  /** Added before each request or one-way message to the peer leaves, and again before its answer is seen. */
  readonly latencyMs?: number;
  /** Up to this much more latency, drawn from the plan's random source for each message. */
  readonly jitterMs?: number;
  /** The fraction (0 to 1) of requests and one-way messages to the peer that are lost on the way. */
  readonly dropRate?: number;
  /** The fault clears itself this many ms after it is set (default: it stays until cleared). */
  readonly forMs?: number;
}

/** A fault as the plan holds it, with the peer it applies to and when it ends. */
export interface ActiveFault extends PeerFault {
  /** A node id, an address `host:port`, or `*` for every peer. */
  readonly peer: string;
  /** The plan clock's time at which the fault clears itself, if it does. */
  readonly until?: number;
}

/** The plan's time and timers; injectable so tests move time by hand. */
export interface FaultClock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface FaultPlanOptions {
  clock?: FaultClock;
  /** Uniform in [0, 1); seed it for a run that repeats exactly. Default Math.random. */
  random?: () => number;
}

/** The peer key that matches every peer. */
export const ANY_PEER = '*';

const realClock: FaultClock = {
  now: () => performance.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout | undefined),
};

interface Entry {
  fault: ActiveFault;
  timer: unknown;
}

function checkFault(fault: PeerFault): void {
  const { partition, latencyMs, jitterMs, dropRate, forMs } = fault;
  if (partition !== undefined && partition !== 'out' && partition !== 'in' && partition !== 'both') {
    throw new RangeError(`partition must be 'out', 'in' or 'both', not ${String(partition)}`);
  }
  for (const [name, value] of [
    ['latencyMs', latencyMs],
    ['jitterMs', jitterMs],
    ['forMs', forMs],
  ] as const) {
    if (value !== undefined && !(Number.isFinite(value) && value >= 0)) throw new RangeError(`${name} must be a finite number >= 0, not ${value}`);
  }
  if (dropRate !== undefined && !(dropRate >= 0 && dropRate <= 1)) throw new RangeError(`dropRate must be between 0 and 1, not ${dropRate}`);
}

export class FaultPlan {
  readonly #entries = new Map<string, Entry>();
  readonly #listeners = new Set<() => void>();
  readonly clock: FaultClock;
  readonly random: () => number;

  constructor(options: FaultPlanOptions = {}) {
    this.clock = options.clock ?? realClock;
    this.random = options.random ?? Math.random;
  }

  /**
   * True while any fault is set. The wrapped transport checks this one value per message and
   * takes its plain path while it is false, so a plan without faults costs nothing.
   */
  get active(): boolean {
    return this.#entries.size > 0;
  }

  /**
   * Sets the fault for a peer (a node id, an address `host:port`, or `*` for all), replacing
   * the one it had. A node id matches inbound messages (the id the peer proved) and outbound
   * ones whose caller named the peer by that id; an address matches outbound messages to it.
   */
  set(peer: string, fault: PeerFault): ActiveFault {
    if (typeof peer !== 'string' || peer === '') throw new RangeError('a fault needs a peer: a node id, host:port or *');
    checkFault(fault);
    this.#drop(peer);
    const until = fault.forMs === undefined ? undefined : this.clock.now() + fault.forMs;
    const active: ActiveFault = { ...fault, peer, ...(until === undefined ? {} : { until }) };
    const entry: Entry = { fault: active, timer: undefined };
    if (fault.forMs !== undefined) {
      entry.timer = this.clock.setTimeout(() => {
        if (this.#entries.get(peer) === entry) this.clear(peer);
      }, fault.forMs);
    }
    this.#entries.set(peer, entry);
    this.#changed();
    return active;
  }

  /** Clears the fault of one peer, or every fault when no peer is given. */
  clear(peer?: string): void {
    if (peer === undefined) {
      if (this.#entries.size === 0) return;
      for (const key of [...this.#entries.keys()]) this.#drop(key);
    } else if (!this.#drop(peer)) {
      return;
    }
    this.#changed();
  }

  /** The faults set now, for status output. */
  list(): ActiveFault[] {
    return [...this.#entries.values()].map((entry) => entry.fault);
  }

  /** The fault for messages to a peer: by its address first, then the id it was named by, then `*`. */
  outbound(address: string, peerName: string | undefined): ActiveFault | undefined {
    return (this.#entries.get(address) ?? (peerName === undefined ? undefined : this.#entries.get(peerName)) ?? this.#entries.get(ANY_PEER))?.fault;
  }

  /** The fault for messages from a peer, by the node id it proved, then `*`. */
  inbound(nodeId: string): ActiveFault | undefined {
    return (this.#entries.get(nodeId) ?? this.#entries.get(ANY_PEER))?.fault;
  }

  /** Calls the listener after every change (set, clear, expiry); returns a function that removes it. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** A latency sample for one message under a fault, in ms (0 when it adds none). */
  latency(fault: PeerFault): number {
    const base = fault.latencyMs ?? 0;
    const jitter = fault.jitterMs ?? 0;
    return jitter > 0 ? base + this.random() * jitter : base;
  }

  /** Whether one message under a fault is lost. */
  drops(fault: PeerFault): boolean {
    const rate = fault.dropRate ?? 0;
    return rate > 0 && this.random() < rate;
  }

  #drop(peer: string): boolean {
    const entry = this.#entries.get(peer);
    if (entry === undefined) return false;
    if (entry.timer !== undefined) this.clock.clearTimeout(entry.timer);
    this.#entries.delete(peer);
    return true;
  }

  #changed(): void {
    for (const listener of this.#listeners) listener();
  }
}

/** Whether a fault cuts messages going out to its peer. */
export function cutsOutbound(fault: PeerFault): boolean {
  return fault.partition === 'out' || fault.partition === 'both';
}

/** Whether a fault cuts messages coming in from its peer. */
export function cutsInbound(fault: PeerFault): boolean {
  return fault.partition === 'in' || fault.partition === 'both';
}

