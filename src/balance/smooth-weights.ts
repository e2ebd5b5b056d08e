import type { Endpoint } from './index.ts';
import { EndpointSnapshot } from './endpoints.ts';

/**
 * nginx's smooth weighted round robin state: every eligible endpoint's current weight grows
 * by its weight, the largest is chosen and lowered by the eligible total. Over a cycle each
 * endpoint is chosen exactly in proportion to its weight, and heavy ones are interleaved with
 * light ones instead of arriving in bursts.
 */
export class SmoothWeights {
  readonly #snapshot = new EndpointSnapshot();
  #current = new Float64Array(0);
  /** Scratch mask of endpoints eligible for the next choice, reused across picks. */
  #eligible = new Uint8Array(0);

  /**
   * Aligns state with the list (current weights follow their endpoint by id) and returns a
   * cleared eligibility mask for the caller to fill before calling choose.
   */
  prepare(endpoints: readonly Endpoint[]): Uint8Array {
    const snapshot = this.#snapshot;
    const previousIds = snapshot.ids;
    if (snapshot.refresh(endpoints)) {
      const previous = new Map<string, number>();
      for (let i = 0; i < previousIds.length; i++) previous.set(previousIds[i], this.#current[i]);
      const current = new Float64Array(endpoints.length);
      for (let i = 0; i < endpoints.length; i++) current[i] = previous.get(endpoints[i].id) ?? 0;
      this.#current = current;
      this.#eligible = new Uint8Array(endpoints.length);
    } else {
      this.#eligible.fill(0);
    }
    return this.#eligible;
  }

  /** Chooses among the endpoints marked eligible by the mask prepare returned. */
  choose(endpoints: readonly Endpoint[]): Endpoint | undefined {
    const eligible = this.#eligible;
    const weights = this.#snapshot.weights;
    const current = this.#current;
    let total = 0;
    let count = 0;
    for (let i = 0; i < endpoints.length; i++) {
      if (eligible[i] === 1) {
        total += weights[i];
        count++;
      }
    }
    if (count === 0) return undefined;
    // When every eligible endpoint is drained (weight 0) they share equally.
    const unit = total === 0;
    if (unit) total = count;
    let best = -1;
    for (let i = 0; i < endpoints.length; i++) {
      if (eligible[i] !== 1) continue;
      current[i] += unit ? 1 : weights[i];
      if (best < 0 || current[i] > current[best]) best = i;
    }
    current[best] -= total;
    return endpoints[best];
  }
}
