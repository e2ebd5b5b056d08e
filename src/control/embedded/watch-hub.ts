/**
 * WatchHub: the recent change history kept in memory, and the long-polls waiting on it.
 * Watchers ask for events after a revision; when that revision is older than the history
 * held (evicted, or from before this server started) they get a reset and re-read instead.
 */
import type { StoredEvent } from './protocol.ts';

export type WatchBatch =
  | { reset: true; revision: number }
  | { reset: false; events: StoredEvent[]; revision: number };

interface Waiter {
  prefix: string;
  after: number;
  epoch: string | undefined;
  timer: NodeJS.Timeout;
  done: (batch: WatchBatch) => void;
}

/** Bounds one answer, so a watcher far behind catches up in several polls. */
const MAX_EVENTS_PER_BATCH = 1000;

export class WatchHub {
  readonly epoch: string;
  /** Revision at start: a watcher from an earlier server life can resume losslessly only from here. */
  readonly startRevision: number;
  private readonly capacity: number;
  private readonly currentRevision: () => number;
  private events: StoredEvent[] = [];
  /** Every event with a revision above this is held. */
  private historyStart: number;
  private readonly waiters = new Set<Waiter>();

  constructor(options: { epoch: string; capacity: number; currentRevision: () => number }) {
    this.epoch = options.epoch;
    this.capacity = options.capacity;
    this.currentRevision = options.currentRevision;
    this.startRevision = options.currentRevision();
    this.historyStart = this.startRevision;
  }

  append(events: StoredEvent[]): void {
    this.events.push(...events);
    // Trim in chunks so appends stay cheap.
    const excess = this.events.length - this.capacity;
    if (excess > Math.max(1, this.capacity / 10)) {
      this.historyStart = this.events[excess - 1].revision;
      this.events = this.events.slice(excess);
    }
    for (const waiter of this.waiters) {
      const batch = this.read(waiter.prefix, waiter.after, waiter.epoch);
      if (batch.reset || batch.events.length > 0) this.finish(waiter, batch);
    }
  }

  /** Events under prefix after `after`, or a reset when that part of history is gone. */
  read(prefix: string, after: number, epoch?: string): WatchBatch {
    const revision = this.currentRevision();
    const fromOtherLife = epoch !== undefined && epoch !== this.epoch && after !== this.startRevision;
    if (after > revision || after < this.historyStart || fromOtherLife) return { reset: true, revision };
    const events: StoredEvent[] = [];
    let covered = revision;
    for (let i = this.firstAfter(after); i < this.events.length; i++) {
      const event = this.events[i];
      const key = event.type === 'put' ? event.entry.key : event.key;
      if (!key.startsWith(prefix)) continue;
      events.push(event);
      if (events.length >= MAX_EVENTS_PER_BATCH) {
        covered = event.revision;
        break;
      }
    }
    return { reset: false, events, revision: covered };
  }

  /** Answers at once if there is something to say, else when a matching change comes or after waitMs. */
  wait(prefix: string, after: number, epoch: string | undefined, waitMs: number, done: (batch: WatchBatch) => void): () => void {
    const batch = this.read(prefix, after, epoch);
    if (batch.reset || batch.events.length > 0 || waitMs <= 0) {
      done(batch);
      return () => {};
    }
    const waiter: Waiter = {
      prefix,
      after,
      epoch,
      done,
      timer: setTimeout(() => this.finish(waiter, this.read(prefix, after, epoch)), waitMs),
    };
    this.waiters.add(waiter);
    return () => {
      clearTimeout(waiter.timer);
      this.waiters.delete(waiter);
    };
  }

  /** Drops every waiting long-poll without answering (the server is closing its sockets). */
  close(): void {
    for (const waiter of this.waiters) clearTimeout(waiter.timer);
    this.waiters.clear();
  }

  get waiting(): number {
    return this.waiters.size;
  }

  private finish(waiter: Waiter, batch: WatchBatch): void {
    clearTimeout(waiter.timer);
    this.waiters.delete(waiter);
    waiter.done(batch);
  }

  private firstAfter(revision: number): number {
    let lo = 0;
    let hi = this.events.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.events[mid].revision <= revision) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
