/**
 * A slot move as recorded in the coordinator (`data/moves/<placement>/<first slot>`). The
 * phase says how far it got, so whoever finds it after a crash knows whether to roll back
 * (before `switched`, the source still owns the slots) or to finish (after it).
 */
export type MovePhase = 'copying' | 'catching-up' | 'fenced' | 'switched' | 'rolling-back';

export interface MoveRecord {
  placement: string;
  /** Inclusive range of slots moved together. */
  first: number;
  last: number;
  fromShard: number;
  toShard: number;
  fromNode: string;
  toNode: string;
  phase: MovePhase;
  /** Source change-log position taken before the copy began: catch-up replays from here. */
  startSeq: number;
  /** Map version the switch produced (phase `switched`). */
  switchedAt?: number;
  /** Fencing token of the leader that wrote the record. */
  token: number;
  docs: number;
  bytes: number;
  startedAt: number;
}

export function isMoveRecord(value: unknown): value is MoveRecord {
  const v = value as Partial<MoveRecord> | null;
  return !!v && typeof v === 'object' && typeof v.first === 'number' && typeof v.last === 'number' && typeof v.fromShard === 'number' && typeof v.phase === 'string';
}

/** Phases in which the source refuses writes to the moving slots. */
export function fencesSource(phase: MovePhase): boolean {
  return phase === 'fenced' || phase === 'switched';
}
