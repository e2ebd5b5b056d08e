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
  /** Replicate mode: the last index of each append in flight, ascending. */
  #inflight: number[] = [];
  #pendingSnapshot = 0;
  #silentTicks = 0;
  #ackedRound = 0;
  /** match as it stood at the previous heartbeat, to notice a pipeline that lost a message. */
  #matchAtBeat = 0;

  constructor(id: PeerId, next: number, maxInflight: number) {
    this.id = id;
    this.#next = next;
    this.#maxInflight = maxInflight;
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

  tick(): void {
    this.#silentTicks++;
  }

  /** Any answer in the leader's term: the follower is alive and saw heartbeat round `round`. */
  heard(round: number): void {
    this.#silentTicks = 0;
    if (round > this.#ackedRound) this.#ackedRound = round;
  }

  /** An append ending at lastIndex went out (lastIndex = next - 1 for an empty one). */
  sent(lastIndex: number): void {
    if (this.#mode === 'probe') {
      this.#probeSent = true;
    } else if (this.#mode === 'replicate' && lastIndex >= this.#next) {
      this.#next = lastIndex + 1;
      this.#inflight.push(lastIndex);
    }
  }

  /** The follower matches up to `index`. Returns whether match moved. */
  acked(index: number): boolean {
    this.#probeSent = false;
    const moved = index > this.#match;
    if (moved) {
      this.#match = index;
      if (this.#next <= index) this.#next = index + 1;
    }
    while (this.#inflight.length > 0 && this.#inflight[0] <= index) this.#inflight.shift();
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

  /**
   * Called at each heartbeat. A pipeline that made no progress over a whole heartbeat interval
   * while entries are outstanding probably lost a message: fall back to probing from match.
   */
  beat(lastIndex: number): void {
    if (this.#mode === 'replicate' && this.#match < lastIndex && this.#match === this.#matchAtBeat && this.#next > this.#match + 1) {
      this.#becomeProbe(this.#match + 1);
    }
    this.#matchAtBeat = this.#match;
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
