import type { MovePhase } from './move-record.ts';

/** The rebalancer's progress at `data/rebalance-progress`, for `shoal status` and `shoal rebalance`. */
export interface RebalanceProgress {
  state: 'idle' | 'moving';
  leader: string;
  /** Moves of the current pass. */
  movesTotal: number;
  movesDone: number;
  current?: { placement: string; first: number; last: number; fromNode: string; toNode: string; phase: MovePhase; docs: number; bytes: number };
  docsMoved: number;
  bytesMoved: number;
  /** The last `shoal rebalance` request a finished pass covered. */
  handledRequest?: string;
  /**
   * What was moved for `handledRequest`, from the moment the leader saw it: 0 when the slots
   * were already even (`movesDone` is the last pass's, which may be older than the request).
   */
  handledMoves?: number;
  handledDocsMoved?: number;
  /** Slots reassigned after their node was gone, whose documents were lost (one replica). */
  lostSlots: number;
  lastError?: string;
  updatedAt: number;
}

export interface RebalanceRequest {
  id: string;
  requestedAt: number;
}
