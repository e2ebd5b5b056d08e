/**
 * A follower's answer to an append from the leader it follows: take the entries when the logs
 * meet at prevIndex, otherwise refuse with a hint where to retry.
 */
import type { RaftLog } from './raft-log.ts';
import type { RaftMessage } from './types.ts';

export type AppendMessage = Extract<RaftMessage, { type: 'append' }>;

export interface AppendOutcome {
  success: boolean;
  /** On success the last index known to match the leader's log; on refusal the retry hint. */
  index: number;
}

/** Applies the append to `log`; null when the message could only come from a faulty sender. */
export function acceptAppend(log: RaftLog, m: AppendMessage): AppendOutcome | null {
  let { prevIndex, prevTerm, entries } = m;
  const commit = log.commit;
  if (prevIndex < commit) {
    // Entries up to commit are committed, so the leader holds the same ones: skip them. This
    // also covers a prevIndex compacted away here.
    const skip = Math.min(commit - prevIndex, entries.length);
    if (skip > 0) {
      prevTerm = entries[skip - 1].term;
      prevIndex += skip;
      entries = entries.slice(skip);
    }
    if (prevIndex < commit) return { success: true, index: commit };
  }
  if (!log.matches(prevIndex, prevTerm)) return { success: false, index: log.retryHint(prevIndex, prevTerm) };
  const last = log.accept(prevIndex, entries);
  if (last === null) return null;
  log.commitTo(Math.min(m.commit, last));
  return { success: true, index: last };
}
