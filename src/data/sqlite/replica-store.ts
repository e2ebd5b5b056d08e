/**
 * A shard replica's consensus state, kept in the shard's own database: the log and the hard
 * state sit beside the documents, so one transaction can persist new entries, apply committed
 * ones and record the applied index, for one fsync per step and no window in which a command
 * is applied but its index is not (or the reverse).
 */
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { ShoalError } from '../../core/index.ts';
import type { ClusterConfig, HardState, LogEntry, SnapshotMeta } from '../../consensus/index.ts';
import type { ReplicaState } from '../types.ts';

export const REPLICA_DDL = [
  'CREATE TABLE IF NOT EXISTS _replica_log (idx INTEGER PRIMARY KEY, term INTEGER NOT NULL, type TEXT NOT NULL, entry TEXT NOT NULL)',
  'CREATE TABLE IF NOT EXISTS _replica_state (name TEXT PRIMARY KEY, value TEXT NOT NULL)',
];

const EMPTY_CONFIG: ClusterConfig = { voters: [], learners: [] };

interface Applied {
  index: number;
  term: number;
  config: ClusterConfig;
}

export class ReplicaStore {
  readonly #readState: StatementSync;
  readonly #writeState: StatementSync;
  readonly #readLog: StatementSync;
  readonly #readEntry: StatementSync;
  readonly #truncateFrom: StatementSync;
  readonly #deleteThrough: StatementSync;
  readonly #deleteAll: StatementSync;
  readonly #append: StatementSync;
  readonly #configsThrough: StatementSync;

  constructor(db: DatabaseSync) {
    for (const ddl of REPLICA_DDL) db.exec(ddl);
    this.#readState = db.prepare('SELECT value FROM _replica_state WHERE name = ?');
    this.#writeState = db.prepare('INSERT INTO _replica_state (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value');
    this.#readLog = db.prepare('SELECT entry FROM _replica_log ORDER BY idx');
    this.#readEntry = db.prepare('SELECT entry FROM _replica_log WHERE idx = ?');
    this.#truncateFrom = db.prepare('DELETE FROM _replica_log WHERE idx >= ?');
    this.#deleteThrough = db.prepare('DELETE FROM _replica_log WHERE idx <= ?');
    this.#deleteAll = db.prepare('DELETE FROM _replica_log');
    this.#append = db.prepare('INSERT INTO _replica_log (idx, term, type, entry) VALUES (?, ?, ?, ?)');
    this.#configsThrough = db.prepare("SELECT entry FROM _replica_log WHERE idx <= ? AND type = 'config' ORDER BY idx DESC LIMIT 1");
  }

  load(): ReplicaState | undefined {
    const hardState = this.#state<HardState>('hard');
    if (!hardState) return undefined;
    const snapshot = this.#state<SnapshotMeta>('snapshot') ?? { index: 0, term: 0, config: EMPTY_CONFIG };
    const applied = this.#state<Applied>('applied') ?? { index: snapshot.index, term: snapshot.term, config: snapshot.config };
    const entries = (this.#readLog.all() as Array<{ entry: string }>).map((row) => JSON.parse(row.entry) as LogEntry);
    return { hardState, snapshot, entries, applied: applied.index, appliedConfig: applied.config };
  }

  /** Call inside the step's transaction. */
  persist(hardState: HardState | undefined, entries: readonly LogEntry[]): void {
    if (hardState) this.#writeState.run('hard', JSON.stringify(checkHardState(hardState)));
    else if (!this.#state('hard')) this.#writeState.run('hard', JSON.stringify({ term: 0, votedFor: null, commit: 0 }));
    if (entries.length === 0) return;
    let expected = entries[0].index;
    this.#truncateFrom.run(expected);
    for (const entry of entries) {
      if (!Number.isSafeInteger(entry?.index) || entry.index !== expected || !Number.isSafeInteger(entry.term)) {
        throw new ShoalError('BAD_REQUEST', `log entries must have consecutive indexes (expected ${expected})`);
      }
      this.#append.run(entry.index, entry.term, String(entry.type), JSON.stringify(entry));
      expected++;
    }
  }

  /** The applied index so far; call inside the step's transaction. */
  applied(): Applied {
    const snapshot = this.#state<SnapshotMeta>('snapshot');
    return this.#state<Applied>('applied') ?? { index: snapshot?.index ?? 0, term: snapshot?.term ?? 0, config: snapshot?.config ?? EMPTY_CONFIG };
  }

  markApplied(entry: LogEntry, config: ClusterConfig): void {
    this.#writeState.run('applied', JSON.stringify({ index: entry.index, term: entry.term, config }));
  }

  /** Folds the log through index (≤ applied) into the snapshot point. */
  compact(index: number): SnapshotMeta {
    const applied = this.applied();
    const current = this.#state<SnapshotMeta>('snapshot') ?? { index: 0, term: 0, config: EMPTY_CONFIG };
    if (!Number.isSafeInteger(index) || index > applied.index) throw new ShoalError('BAD_REQUEST', `cannot compact through ${index}: only ${applied.index} is applied`);
    if (index <= current.index) return current;
    const row = this.#readEntry.get(index) as { entry: string } | undefined;
    if (!row) throw new ShoalError('CONFLICT', `log entry ${index} is not stored`);
    const entry = JSON.parse(row.entry) as LogEntry;
    const lastConfig = this.#configsThrough.get(index) as { entry: string } | undefined;
    const config = lastConfig ? (JSON.parse(lastConfig.entry) as Extract<LogEntry, { type: 'config' }>).config : current.config;
    const meta: SnapshotMeta = { index, term: entry.term, config };
    this.#writeState.run('snapshot', JSON.stringify(meta));
    this.#deleteThrough.run(index);
    return meta;
  }

  /** The store now holds another replica's copy: the log is the copier's, the applied point is the snapshot. */
  reset(hardState: HardState): ReplicaState {
    const applied = this.applied();
    const snapshot: SnapshotMeta = { index: applied.index, term: applied.term, config: applied.config };
    this.#deleteAll.run();
    this.#writeState.run('snapshot', JSON.stringify(snapshot));
    this.#writeState.run('hard', JSON.stringify({ ...checkHardState(hardState), commit: Math.max(hardState.commit, applied.index) }));
    return { hardState: { ...hardState, commit: Math.max(hardState.commit, applied.index) }, snapshot, entries: [], applied: applied.index, appliedConfig: applied.config };
  }

  /** Where a copy of this store stands in the log. */
  snapshotMeta(): SnapshotMeta {
    const applied = this.applied();
    return { index: applied.index, term: applied.term, config: applied.config };
  }

  #state<T>(name: string): T | undefined {
    const row = this.#readState.get(name) as { value: string } | undefined;
    return row ? (JSON.parse(row.value) as T) : undefined;
  }
}

function checkHardState(hardState: HardState): HardState {
  if (!Number.isSafeInteger(hardState?.term) || !Number.isSafeInteger(hardState.commit) || (hardState.votedFor !== null && typeof hardState.votedFor !== 'string')) {
    throw new ShoalError('BAD_REQUEST', 'malformed hard state');
  }
  return { term: hardState.term, votedFor: hardState.votedFor, commit: hardState.commit };
}
