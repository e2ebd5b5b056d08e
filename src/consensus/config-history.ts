/**
 * The cluster configuration as the log defines it. A config entry takes effect as soon as it is
 * appended (single-server changes need no joint consensus), so the configuration in force is
 * that of the last config entry in the log, or the snapshot's when there is none; truncating
 * the log past a config entry reverts to the one before it.
 */
import type { ClusterConfig, LogEntry } from './types.ts';

interface ConfigChange {
  index: number;
  config: ClusterConfig;
}

export class ConfigHistory {
  #base: ClusterConfig;
  #baseIndex: number;
  /** Config entries after the snapshot, in index order. */
  #changes: ConfigChange[] = [];

  constructor(base: ClusterConfig, baseIndex: number) {
    this.#base = base;
    this.#baseIndex = baseIndex;
  }

  /** The configuration in force now. */
  get current(): ClusterConfig {
    return this.#changes.at(-1)?.config ?? this.#base;
  }

  /** Index of the entry that set the current configuration (the snapshot's index when no entry did). */
  get currentIndex(): number {
    return this.#changes.at(-1)?.index ?? this.#baseIndex;
  }

  /** The configuration in force once the log is applied up to `index`. */
  at(index: number): ClusterConfig {
    for (let i = this.#changes.length - 1; i >= 0; i--) {
      if (this.#changes[i].index <= index) return this.#changes[i].config;
    }
    return this.#base;
  }

  appended(entry: LogEntry): void {
    if (entry.type === 'config') this.#changes.push({ index: entry.index, config: entry.config });
  }

  /** Entries from `index` on were dropped. */
  truncatedFrom(index: number): void {
    while (this.#changes.length > 0 && this.#changes[this.#changes.length - 1].index >= index) this.#changes.pop();
  }

  /** Entries up to `index` became part of the snapshot. */
  compactedTo(index: number): void {
    this.#base = this.at(index);
    this.#baseIndex = index;
    this.#changes = this.#changes.filter((change) => change.index > index);
  }

  reset(base: ClusterConfig, baseIndex: number): void {
    this.#base = base;
    this.#baseIndex = baseIndex;
    this.#changes = [];
  }
}
