/**
 * Counting the answers to a (pre-)vote: only the voters of the candidate's configuration count,
 * each once however often its answer is delivered.
 */
import { majority } from './quorum.ts';
import type { PeerId } from './types.ts';

export type TallyResult = 'won' | 'lost' | 'pending';

export class VoteTally {
  readonly #voters: ReadonlySet<PeerId>;
  readonly #answers = new Map<PeerId, boolean>();

  constructor(voters: readonly PeerId[]) {
    this.#voters = new Set(voters);
  }

  record(from: PeerId, granted: boolean): TallyResult {
    if (this.#voters.has(from) && !this.#answers.has(from)) this.#answers.set(from, granted);
    return this.result;
  }

  get result(): TallyResult {
    const needed = majority(this.#voters.size);
    let granted = 0;
    let refused = 0;
    for (const answer of this.#answers.values()) {
      if (answer) granted++;
      else refused++;
    }
    if (granted >= needed) return 'won';
    if (refused > this.#voters.size - needed) return 'lost';
    return 'pending';
  }
}
