/**
 * What a replica accepts from the network. Anything else (another replica's mail, a wrong
 * shape, entries that do not follow one another) is dropped before the protocol sees it:
 * bad input never throws and never reaches the log.
 */
import { isClusterConfig } from './quorum.ts';
import type { LogEntry, PeerId, RaftMessage } from './types.ts';

type Fields = Record<string, unknown>;

const isIndex = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;
const isBool = (value: unknown): value is boolean => typeof value === 'boolean';

function isEntry(value: unknown): value is LogEntry {
  if (typeof value !== 'object' || value === null) return false;
  const entry = value as Fields;
  if (!isIndex(entry.index) || !isIndex(entry.term)) return false;
  switch (entry.type) {
    case 'command':
      // No `command` key is a command of undefined: serializers drop undefined fields, and
      // refusing the entry would stall replication for good.
      return true;
    case 'config':
      return isClusterConfig(entry.config);
    case 'noop':
      return true;
    default:
      return false;
  }
}

/** Entries must follow prevIndex one by one, with terms rising from prevTerm to at most the sender's term. */
function areEntries(value: unknown, prevIndex: number, prevTerm: number, term: number): value is LogEntry[] {
  if (!Array.isArray(value)) return false;
  let index = prevIndex;
  let lastTerm = prevTerm;
  for (const entry of value) {
    if (!isEntry(entry) || entry.index !== index + 1 || entry.term < lastTerm || entry.term > term) return false;
    index = entry.index;
    lastTerm = entry.term;
  }
  return true;
}

function hasValidBody(m: Fields): boolean {
  switch (m.type) {
    case 'vote':
      return isIndex(m.lastIndex) && isIndex(m.lastTerm) && isBool(m.preVote) && isBool(m.transfer);
    case 'voteReply':
      return isBool(m.granted) && isBool(m.preVote);
    case 'append':
      return (
        isIndex(m.prevIndex) &&
        isIndex(m.prevTerm) &&
        isIndex(m.commit) &&
        isIndex(m.round) &&
        (m.prevTerm as number) <= (m.term as number) &&
        areEntries(m.entries, m.prevIndex as number, m.prevTerm as number, m.term as number)
      );
    case 'appendReply':
      return isBool(m.success) && isIndex(m.index) && isIndex(m.round);
    case 'timeoutNow':
      return true;
    default:
      return false;
  }
}

/** The message, when it is well formed and addressed to `self` by someone else; null otherwise. */
export function acceptMessage(value: unknown, self: PeerId): RaftMessage | null {
  if (typeof value !== 'object' || value === null) return null;
  const m = value as Fields;
  if (m.to !== self || typeof m.from !== 'string' || m.from.length === 0 || m.from === self) return null;
  if (!isIndex(m.term)) return null;
  return hasValidBody(m) ? (value as RaftMessage) : null;
}
