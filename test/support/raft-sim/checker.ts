/**
 * Raft's safety properties, checked by code on what the simulated hosts see: election safety,
 * log matching, leader completeness, state machine safety, durability of acknowledged writes
 * and linearizable reads. A violation throws at once, with what was seen.
 */
import type { LogEntry } from '../../../src/consensus/index.ts';

export class SimulationViolation extends Error {
  override name = 'SimulationViolation';
}

/** An entry's identity in the checks: its term, kind and payload. */
export function entryKey(entry: LogEntry): string {
  switch (entry.type) {
    case 'command':
      return `${entry.term}/c/${(entry.command as { id: string }).id}`;
    case 'config':
      return `${entry.term}/k/${entry.config.voters.join(',')}|${entry.config.learners.join(',')}`;
    case 'noop':
      return `${entry.term}/n`;
  }
}

/** A replica's durable log as the checks read it: key of the entry at an index, if it holds one. */
export interface DurableLog {
  id: string;
  lastIndex: number;
  keyAt(index: number): string | undefined;
}

interface Committed {
  key: string;
  /** The earliest term in which a replica was seen to hold it committed. */
  term: number;
}

interface AckedWrite {
  id: string;
  index: number;
  key: string;
}

const termOf = (key: string): number => Number(key.slice(0, key.indexOf('/')));

export class SafetyChecker {
  readonly #leaderOfTerm = new Map<number, string>();
  readonly #committed: (Committed | undefined)[] = [];
  readonly #observedCommit = new Map<string, number>();
  readonly #acked: AckedWrite[] = [];
  /** For each count k of acknowledged writes, the one of the first k with the highest index. */
  readonly #highestAcked: AckedWrite[] = [];
  readonly #ackedAtRead = new Map<number, number>();
  readsAnswered = 0;

  get leaders(): number {
    return this.#leaderOfTerm.size;
  }

  get writesAcked(): number {
    return this.#acked.length;
  }

  get acked(): readonly AckedWrite[] {
    return this.#acked;
  }

  /** `log` became leader of `term`; its log is on disk already. */
  sawLeader(term: number, log: DurableLog): void {
    const known = this.#leaderOfTerm.get(term);
    if (known !== undefined && known !== log.id) throw new SimulationViolation(`election safety: ${known} and ${log.id} both led term ${term}`);
    this.#leaderOfTerm.set(term, log.id);
    for (let index = 1; index < this.#committed.length; index++) {
      const committed = this.#committed[index];
      if (!committed || committed.term >= term) continue;
      const key = log.keyAt(index);
      if (key !== committed.key) {
        throw new SimulationViolation(`leader completeness: ${log.id} leads term ${term} with ${key ?? 'nothing'} at ${index}, where ${committed.key} was committed in term ${committed.term}`);
      }
    }
  }

  /** `log`'s replica, in `term`, holds everything up to `commit` committed (and on its disk). */
  sawCommit(term: number, commit: number, log: DurableLog): void {
    const from = this.#observedCommit.get(log.id) ?? 0;
    for (let index = from + 1; index <= commit; index++) {
      const key = log.keyAt(index);
      if (key === undefined) throw new SimulationViolation(`${log.id} reports commit ${commit} in term ${term} but holds no entry at ${index}`);
      const committed = this.#committed[index];
      if (!committed) this.#committed[index] = { key, term };
      else if (committed.key !== key) throw new SimulationViolation(`state machine safety: ${log.id} committed ${key} at ${index}, another replica ${committed.key}`);
      else if (term < committed.term) committed.term = term;
    }
    if (commit > from) this.#observedCommit.set(log.id, commit);
  }

  sawApplied(replica: string, index: number, key: string): void {
    const committed = this.#committed[index];
    if (committed?.key !== key) throw new SimulationViolation(`state machine safety: ${replica} applied ${key} at ${index}, committed there: ${committed?.key ?? 'nothing'}`);
  }

  /** The client was told the write `id` is done, as entry `key` at `index`. */
  writeAcked(id: string, index: number, key: string): void {
    this.sawApplied(`the client's ack of ${id}`, index, key);
    const write = { id, index, key };
    this.#acked.push(write);
    const highest = this.#highestAcked.at(-1);
    this.#highestAcked.push(highest && highest.index > index ? highest : write);
  }

  readAsked(readId: number): void {
    this.#ackedAtRead.set(readId, this.#acked.length);
  }

  /**
   * A replica answered a confirmed read from its state: `keyAt` is that state, applied up to
   * `applied`. Every write acknowledged before the read was asked must be in it; since every
   * applied entry is checked against the committed log, it is enough that the state reaches the
   * highest index among those writes and holds that write there.
   */
  readAnswered(readId: number, replica: string, applied: number, keyAt: (index: number) => string | undefined): void {
    const ackedBefore = this.#ackedAtRead.get(readId);
    if (ackedBefore === undefined) throw new SimulationViolation(`${replica} answered read ${readId}, which nobody asked`);
    this.#ackedAtRead.delete(readId);
    const write = ackedBefore > 0 ? this.#highestAcked[ackedBefore - 1] : undefined;
    if (write && (write.index > applied || keyAt(write.index) !== write.key)) {
      throw new SimulationViolation(`linearizable reads: read ${readId} on ${replica} returned state at ${applied} without ${write.id} (index ${write.index}), acknowledged before the read was asked`);
    }
    this.readsAnswered++;
  }

  /** Log matching: two logs that hold an entry of the same term at an index agree on everything up to it. */
  checkLogMatching(logs: DurableLog[]): void {
    for (let a = 0; a < logs.length; a++) {
      for (let b = a + 1; b < logs.length; b++) this.#checkPair(logs[a], logs[b]);
    }
  }

  /** Every acknowledged write is in `log` (the end of a run, once everyone caught up). */
  checkDurable(log: DurableLog): void {
    for (const write of this.#acked) {
      if (log.keyAt(write.index) !== write.key) {
        throw new SimulationViolation(`durability: acknowledged write ${write.id} (${write.key} at ${write.index}) is missing from ${log.id}, which has ${log.keyAt(write.index) ?? 'nothing'}`);
      }
    }
  }

  #checkPair(x: DurableLog, y: DurableLog): void {
    let index = Math.min(x.lastIndex, y.lastIndex);
    for (; index > 0; index--) {
      const kx = x.keyAt(index);
      const ky = y.keyAt(index);
      if (kx !== undefined && ky !== undefined && termOf(kx) === termOf(ky)) break;
    }
    for (let i = index; i > 0; i--) {
      const kx = x.keyAt(i);
      const ky = y.keyAt(i);
      if (kx !== undefined && ky !== undefined && kx !== ky) {
        throw new SimulationViolation(`log matching: ${x.id} and ${y.id} agree on the term at ${index} but differ at ${i}: ${kx} vs ${ky}`);
      }
    }
  }
}
