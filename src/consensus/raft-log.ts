/**
 * A replica's log in memory: the snapshot it starts after, the entries since, and how far they
 * are committed, handed to the host to persist, persisted, handed to the host to apply, and
 * applied. The positions obey
 *
 *   snapshot.index ≤ applied ≤ applying ≤ min(commit, persisted),  persisted ≤ handedOut ≤ last
 *
 * so an entry is handed out for applying only once an earlier Ready's advance() said it was on
 * this replica's disk: a crash can never leave applied state the disk does not explain.
 */
import { ShoalError } from '../core/index.ts';
import { ConfigHistory } from './config-history.ts';
import type { ClusterConfig, LogEntry, SnapshotMeta } from './types.ts';

export class RaftLog {
  #snapshot: SnapshotMeta;
  #entries: LogEntry[] = [];
  readonly #configs: ConfigHistory;
  #commit: number;
  #handedOut: number;
  #persisted: number;
  #applying: number;
  #applied: number;

  /** A log as it was stored: every entry given is on disk already. */
  constructor(snapshot: SnapshotMeta, entries: LogEntry[], commit: number, applied: number) {
    this.#snapshot = snapshot;
    this.#configs = new ConfigHistory(snapshot.config, snapshot.index);
    let previous = { index: snapshot.index, term: snapshot.term };
    for (const entry of entries) {
      if (entry.index !== previous.index + 1 || entry.term < previous.term) {
        throw new ShoalError('VALIDATION', 'stored log entries must follow the snapshot without gaps, terms never decreasing', { at: entry.index, after: previous });
      }
      this.#push(entry);
      previous = entry;
    }
    const last = this.lastIndex;
    this.#applied = Math.min(Math.max(applied, snapshot.index), last);
    this.#applying = this.#applied;
    // A commit stored ahead of the stored entries (a torn write) is clamped: it is re-learned.
    this.#commit = Math.min(Math.max(commit, this.#applied), last);
    this.#handedOut = last;
    this.#persisted = last;
  }

  get snapshot(): SnapshotMeta {
    return this.#snapshot;
  }

  get firstIndex(): number {
    return this.#snapshot.index + 1;
  }

  get lastIndex(): number {
    return this.#snapshot.index + this.#entries.length;
  }

  get lastTerm(): number {
    return this.#entries.at(-1)?.term ?? this.#snapshot.term;
  }

  get commit(): number {
    return this.#commit;
  }

  get persisted(): number {
    return this.#persisted;
  }

  get applied(): number {
    return this.#applied;
  }

  get config(): ClusterConfig {
    return this.#configs.current;
  }

  /** Index of the entry that set the current config. */
  get configIndex(): number {
    return this.#configs.currentIndex;
  }

  configAt(index: number): ClusterConfig {
    return this.#configs.at(index);
  }

  /** The term of the entry at `index`, or undefined when it is compacted away or not there. */
  term(index: number): number | undefined {
    if (index === this.#snapshot.index) return this.#snapshot.term;
    if (index < this.#snapshot.index || index > this.lastIndex) return undefined;
    return this.#entries[index - this.#snapshot.index - 1].term;
  }

  matches(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** Whether a candidate whose log ends at (lastIndex, lastTerm) is at least as up to date as this one. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    return lastTerm > this.lastTerm || (lastTerm === this.lastTerm && lastIndex >= this.lastIndex);
  }

  /** Entries from..to inclusive, clipped to what is retained. */
  slice(from: number, to: number): LogEntry[] {
    const start = Math.max(from, this.firstIndex) - this.#snapshot.index - 1;
    const end = Math.min(to, this.lastIndex) - this.#snapshot.index;
    return start < end ? this.#entries.slice(start, end) : [];
  }

  /** The leader's own new entry, at lastIndex + 1. */
  append(entry: LogEntry): void {
    this.#push(entry);
  }

  /**
   * A follower takes `entries`, which follow prevIndex (already checked to match): entries it
   * has with the same term are kept, the log is cut at the first conflict, the rest appended.
   * Returns the last index now known to match the leader's, or null when the entries would cut
   * committed ones (no correct leader sends that; the message is ignored).
   */
  accept(prevIndex: number, entries: LogEntry[]): number | null {
    let i = 0;
    for (; i < entries.length; i++) {
      const term = this.term(entries[i].index);
      if (term === undefined) break;
      if (term !== entries[i].term) {
        if (entries[i].index <= this.#commit) return null;
        this.#truncateFrom(entries[i].index);
        break;
      }
    }
    for (; i < entries.length; i++) this.#push(entries[i]);
    return prevIndex + entries.length;
  }

  /**
   * Where a leader should retry after this replica refused an append at (prevIndex, prevTerm):
   * the last index at or below prevIndex - 1 whose term is at most prevTerm (entries of later
   * terms cannot match the leader's, whose terms up to prevIndex are at most prevTerm), never
   * below the commit index, which always matches.
   */
  retryHint(prevIndex: number, prevTerm: number): number {
    let index = Math.min(prevIndex - 1, this.lastIndex);
    while (index > this.#commit && (this.term(index) ?? 0) > prevTerm) index--;
    return Math.max(index, 0);
  }

  commitTo(index: number): boolean {
    const target = Math.min(index, this.lastIndex);
    if (target <= this.#commit) return false;
    this.#commit = target;
    return true;
  }

  hasToPersist(): boolean {
    return this.#handedOut < this.lastIndex;
  }

  /** Entries not yet handed to the host to persist; marks them handed out. */
  takeToPersist(): LogEntry[] {
    const entries = this.slice(this.#handedOut + 1, this.lastIndex);
    this.#handedOut = this.lastIndex;
    return entries;
  }

  hasToApply(): boolean {
    return this.#applying < Math.min(this.#commit, this.#persisted);
  }

  /** Committed, persisted entries not yet handed to the host to apply; marks them handed out. */
  takeToApply(): LogEntry[] {
    const upTo = Math.min(this.#commit, this.#persisted);
    const entries = this.slice(this.#applying + 1, upTo);
    this.#applying = Math.max(this.#applying, upTo);
    return entries;
  }

  /**
   * The host persisted entries up to (index, term). Ignored when the log no longer holds that
   * entry (it was cut meanwhile): a later Ready hands out the replacement.
   */
  persistedTo(index: number, term: number): void {
    if (index > this.#persisted && index <= this.#handedOut && this.matches(index, term)) this.#persisted = index;
  }

  appliedTo(index: number): void {
    if (index > this.#applied && index <= this.#applying) this.#applied = index;
  }

  /** Drops entries up to `index` (applied): the entry's term and the config then become the snapshot. */
  compact(index: number): void {
    if (index <= this.#snapshot.index) return;
    const meta: SnapshotMeta = { index, term: this.term(index) as number, config: this.configAt(index) };
    this.#entries = this.#entries.slice(index - this.#snapshot.index);
    this.#configs.compactedTo(index);
    this.#snapshot = meta;
  }

  /**
   * The host replaced its state with a snapshot at meta.index (above the commit index). When
   * this log holds the snapshot's last entry, what follows it stays: it matches the leader's
   * log, and some of it may have been acknowledged and counted for commit. Otherwise nothing
   * here after meta.index can be committed (it follows an entry that differs from a committed
   * one), and the log restarts empty after the snapshot.
   */
  install(meta: SnapshotMeta): void {
    const kept = this.matches(meta.index, meta.term) ? this.slice(meta.index + 1, this.lastIndex) : [];
    this.#snapshot = meta;
    this.#entries = [];
    this.#configs.reset(meta.config, meta.index);
    for (const entry of kept) this.#push(entry);
    this.#commit = Math.max(this.#commit, meta.index);
    this.#handedOut = kept.length > 0 ? Math.max(this.#handedOut, meta.index) : meta.index;
    this.#persisted = kept.length > 0 ? Math.max(this.#persisted, meta.index) : meta.index;
    this.#applying = meta.index;
    this.#applied = meta.index;
  }

  #push(entry: LogEntry): void {
    this.#entries.push(entry);
    this.#configs.appended(entry);
  }

  #truncateFrom(index: number): void {
    this.#entries.length = index - this.#snapshot.index - 1;
    this.#configs.truncatedFrom(index);
    this.#handedOut = Math.min(this.#handedOut, index - 1);
    this.#persisted = Math.min(this.#persisted, index - 1);
  }
}
