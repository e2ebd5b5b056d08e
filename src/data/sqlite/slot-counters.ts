/** Reads and writes per slot since the engine opened, kept in memory: hot-key spotting needs no durability. */
import { SLOT_COUNT, type SlotCounters } from '../types.ts';

export class SlotCounterTable {
  readonly #reads = new Float64Array(SLOT_COUNT);
  readonly #writes = new Float64Array(SLOT_COUNT);

  read(slot: number): void {
    this.#reads[slot]++;
  }

  write(slot: number): void {
    this.#writes[slot]++;
  }

  /** Slots with any traffic, in slot order. */
  list(): SlotCounters[] {
    const out: SlotCounters[] = [];
    for (let slot = 0; slot < SLOT_COUNT; slot++) {
      if (this.#reads[slot] > 0 || this.#writes[slot] > 0) out.push({ slot, reads: this.#reads[slot], writes: this.#writes[slot] });
    }
    return out;
  }
}
