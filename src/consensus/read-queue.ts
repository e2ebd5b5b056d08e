/**
 * Linearizable reads a leader has not confirmed yet (ReadIndex): a read waits for an entry of
 * the leader's own term to commit (before that its commit index may lag what earlier leaders
 * committed), then records the commit index and waits for a majority to answer a heartbeat
 * round that began after it was asked: proof that no newer leader existed then.
 */
export interface ConfirmedRead {
  id: number;
  index: number;
}

interface WaitingRead extends ConfirmedRead {
  /** The first round whose answers count for this read. */
  round: number;
}

export class ReadQueue {
  #awaitingTerm: number[] = [];
  #awaitingRound: WaitingRead[] = [];

  awaitTermCommit(id: number): void {
    this.#awaitingTerm.push(id);
  }

  /** Reads that waited for the term's first commit; they now go through the usual path. */
  takeAwaitingTerm(): number[] {
    const ids = this.#awaitingTerm;
    this.#awaitingTerm = [];
    return ids;
  }

  awaitRound(id: number, index: number, round: number): void {
    this.#awaitingRound.push({ id, index, round });
  }

  /** Reads confirmed once a majority answered `quorumRound`, in the order they were asked. */
  confirmUpTo(quorumRound: number): ConfirmedRead[] {
    if (this.#awaitingRound.length === 0 || this.#awaitingRound[0].round > quorumRound) return [];
    const confirmed = this.#awaitingRound.filter((read) => read.round <= quorumRound);
    this.#awaitingRound = this.#awaitingRound.filter((read) => read.round > quorumRound);
    return confirmed.map(({ id, index }) => ({ id, index }));
  }
}
