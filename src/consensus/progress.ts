/**
 * The leader's view of one follower: how far its log is known to match, what to send next,
 * and in which mode.
 * - probe: where the logs meet is unknown; one append at a time, the next only after an answer.
 * - replicate: the logs meet at `match`; appends are pipelined, `next` moved on optimistically,
 *   up to maxInflightAppends unanswered.
 * - snapshot: the entries it needs are compacted away; nothing is sent until the host reports
 *   the snapshot transfer done.
 */
import type { PeerId } from './types.ts';

export type ProgressMode = 'probe' | 'replicate' | 'snapshot';

export class Progress {
  readonly id: PeerId;
  readonly #maxInflight: number;
  #mode: ProgressMode = 'probe';
  #match = 0;
  #next: number;
  /** Probe mode: an append is out and unanswered. */
  #probeSent = false;
  /** Replicate mode: each append in flight (its last index and the round it carried), oldest first. */
  #inflight: Array<{ last: number; round: number }> = [];
  #pendingSnapshot = 0;
  #silentTicks = 0;
  #ackedRound = 0;
  /** The commit index the last append to this follower carried. */
  commitSent = 0;
  /** Ticks the pipeline has gone unanswered while appends are in flight. */
  #unansweredTicks = 0;
  readonly #retransmitTicks: number;

  /** A pipeline unanswered for retransmitTicks is taken to have lost a message. */
  constructor(id: PeerId, next: number, maxInflight: number, retransmitTicks: number) {
    this.id = id;
    this.#next = next;
    this.#maxInflight = maxInflight;
    this.#retransmitTicks = retransmitTicks;
  }

  get mode(): ProgressMode {
    return this.#mode;
  }

  get match(): number {
    return this.#match;
  }

  get next(): number {
    return this.#next;
  }

  get silentTicks(): number {
    return this.#silentTicks;
  }

  /** The latest heartbeat round this follower answered in the leader's term. */
  get ackedRound(): number {
    return this.#ackedRound;
  }

  /** Whether the leader must hold back appends for now. */
  get paused(): boolean {
    if (this.#mode === 'snapshot') return true;
    if (this.#mode === 'probe') return this.#probeSent;
    return this.#inflight.length >= this.#maxInflight;
  }

  /**
   * A lost append in the middle of a pipeline shows up as refusals of the ones after it, the
   * last one as an answer to a later heartbeat that does not cover it (see acked). Should the
   * answers stay away too, the follower is probed again after retransmitTicks.
   */
  tick(): void {
    this.#silentTicks++;
    if (this.#mode !== 'replicate' || this.#inflight.length === 0) {
      this.#unansweredTicks = 0;
    } else if (++this.#unansweredTicks >= this.#retransmitTicks) {
      this.#becomeProbe(this.#match + 1);
    }
  }

  /** Any answer in the leader's term: the follower is alive and saw heartbeat round `round`. */
  heard(round: number): void {
    this.#silentTicks = 0;
    if (round > this.#ackedRound) this.#ackedRound = round;
  }

  /** An append ending at lastIndex went out in `round` (lastIndex = next - 1 for an empty one). */
  sent(lastIndex: number, round: number): void {
    if (this.#mode === 'probe') {
      this.#probeSent = true;
    } else if (this.#mode === 'replicate' && lastIndex >= this.#next) {
      this.#next = lastIndex + 1;
      this.#inflight.push({ last: lastIndex, round });
    }
  }

  /**
   * The follower, answering something sent in `round`, matches up to `index`. Returns whether
   * match moved.
   */
  acked(index: number, round: number): boolean {
    this.#probeSent = false;
    const moved = index > this.#match;
    if (moved) {
      this.#unansweredTicks = 0;
      this.#match = index;
      if (this.#next <= index) this.#next = index + 1;
    }
    while (this.#inflight.length > 0 && this.#inflight[0].last <= index) this.#inflight.shift();
    // An answer to a later round that does not cover the oldest append in flight: on an ordered
    // transport that append was lost (on a reordering one this costs at most a spare resend).
    if (this.#mode === 'replicate' && this.#inflight.length > 0 && round > this.#inflight[0].round) {
      this.#becomeProbe(this.#match + 1);
      return moved;
    }
    // A stale answer (below match) says nothing about where the logs meet now.
    if (index === this.#match && (this.#mode === 'probe' || (this.#mode === 'snapshot' && this.#match >= this.#pendingSnapshot))) {
      this.#becomeReplicate();
    }
    return moved;
  }

  /**
   * The follower refused an append; `hint` is where it suggests the logs may meet. A follower
   * holding what it acknowledged never hints below match, so a hint there means it lost its log
   * (its store was deleted or damaged and it came back empty): match is taken back to the hint,
   * so that it is sent the log again, or a copy where the log is compacted, instead of being
   * probed for ever at an index it no longer has. A refusal overtaken by a later answer may
   * take match back needlessly too; the next probe then finds the logs meeting higher.
   */
  refused(hint: number): void {
    this.#probeSent = false;
    if (this.#mode === 'snapshot') return;
    if (hint < this.#match) this.#match = hint;
    this.#becomeProbe(Math.max(this.#match + 1, Math.min(this.#next - 1, hint + 1)));
  }

  /** The follower needs the snapshot at `index`: hold appends until the transfer is reported. */
  awaitSnapshot(index: number): void {
    this.#mode = 'snapshot';
    this.#pendingSnapshot = index;
    this.#inflight = [];
    this.#probeSent = false;
  }

  /**
   * The host finished sending the snapshot, or gave up. Either way the follower is probed again,
   * paused until it next answers a heartbeat: on success from just past the snapshot, otherwise
   * from where it stood, which asks for the snapshot again once the follower is heard from.
   */
  snapshotDone(ok: boolean): boolean {
    if (this.#mode !== 'snapshot') return false;
    this.#becomeProbe(ok ? Math.max(this.#match, this.#pendingSnapshot) + 1 : this.#match + 1);
    this.#probeSent = true;
    return true;
  }

  #becomeProbe(next: number): void {
    this.#mode = 'probe';
    this.#next = next;
    this.#inflight = [];
    this.#probeSent = false;
  }

  #becomeReplicate(): void {
    this.#mode = 'replicate';
    this.#next = this.#match + 1;
    this.#inflight = [];
  }
}
