/**
 * What a replica has for its host between two Readies: messages, snapshot requests and
 * confirmed reads, plus the hard state and status last reported, so that a Ready carries
 * `hardState` and `status` only when they changed.
 */
import type { ConfirmedRead } from './read-queue.ts';
import type { HardState, RaftMessage, SnapshotMeta } from './types.ts';

export class Outbox {
  messages: RaftMessage[] = [];
  snapshots: Array<{ to: string; meta: SnapshotMeta }> = [];
  reads: ConfirmedRead[] = [];
  #hardState: HardState;
  #statusKey: string;

  constructor(hardState: HardState, statusKey: string) {
    this.#hardState = { ...hardState };
    this.#statusKey = statusKey;
  }

  get hasMail(): boolean {
    return this.messages.length > 0 || this.snapshots.length > 0 || this.reads.length > 0;
  }

  hardStateChanged(current: HardState): boolean {
    const reported = this.#hardState;
    return current.term !== reported.term || current.votedFor !== reported.votedFor || current.commit !== reported.commit;
  }

  statusChanged(key: string): boolean {
    return key !== this.#statusKey;
  }

  /** Hands out the mail, and the hard state or status key when changed (remembered as reported). */
  take(hardState: HardState, statusKey: string): { hardState?: HardState; statusChanged: boolean; messages: RaftMessage[]; snapshots: Outbox['snapshots']; reads: ConfirmedRead[] } {
    const taken = { messages: this.messages, snapshots: this.snapshots, reads: this.reads, statusChanged: this.statusChanged(statusKey) };
    this.messages = [];
    this.snapshots = [];
    this.reads = [];
    this.#statusKey = statusKey;
    if (!this.hardStateChanged(hardState)) return taken;
    this.#hardState = { ...hardState };
    return { ...taken, hardState: { ...hardState } };
  }
}
