/**
 * What a replica has for its host between two Readies: messages, snapshot requests and
 * confirmed reads, plus the hard state and status last reported, so that a Ready carries
 * `hardState` and `status` only when they changed.
 */
import type { ConfirmedRead } from './read-queue.ts';
import type { HardState, PeerId, RaftMessage, RaftRole, SnapshotMeta } from './types.ts';

/** The part of the status whose change is reported. */
export interface StatusHead {
  role: RaftRole;
  term: number;
  leader: PeerId | null;
}

export interface Mail {
  hardState?: HardState;
  statusChanged: boolean;
  messages: RaftMessage[];
  snapshots: Array<{ to: PeerId; meta: SnapshotMeta }>;
  reads: ConfirmedRead[];
}

export class Outbox {
  messages: RaftMessage[] = [];
  snapshots: Array<{ to: PeerId; meta: SnapshotMeta }> = [];
  reads: ConfirmedRead[] = [];
  #hardState: HardState;
  #status: StatusHead;

  constructor(hardState: HardState, status: StatusHead) {
    this.#hardState = { ...hardState };
    this.#status = status;
  }

  get hasMail(): boolean {
    return this.messages.length > 0 || this.snapshots.length > 0 || this.reads.length > 0;
  }

  hardStateChanged(current: HardState): boolean {
    const reported = this.#hardState;
    return current.term !== reported.term || current.votedFor !== reported.votedFor || current.commit !== reported.commit;
  }

  statusChanged(current: StatusHead): boolean {
    const reported = this.#status;
    return current.role !== reported.role || current.term !== reported.term || current.leader !== reported.leader;
  }

  /** Hands out the mail, with the hard state when it changed; both are then taken as reported. */
  take(hardState: HardState, status: StatusHead): Mail {
    const mail: Mail = { messages: this.messages, snapshots: this.snapshots, reads: this.reads, statusChanged: this.statusChanged(status) };
    this.messages = [];
    this.snapshots = [];
    this.reads = [];
    this.#status = status;
    if (this.hardStateChanged(hardState)) {
      this.#hardState = { ...hardState };
      mail.hardState = { ...hardState };
    }
    return mail;
  }
}
