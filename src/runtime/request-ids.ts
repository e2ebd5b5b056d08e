/**
 * Request ids: unique across the cluster and cheap to make, since every call needs one. A
 * process takes its node id plus random bits once, then counts. The node id keeps ids apart
 * between nodes, the random part between incarnations of one node (a restarted node starts
 * counting again), and the counter within one process.
 *
 * Ids are written out a batch at a time into one string and cut from it: an id glued from
 * prefix and counter per call is a rope that the wire encoder must first copy flat, which cost
 * more than making the id. The counter has a fixed width so every id in a batch is the same size.
 */
import { randomBytes } from 'node:crypto';

const IDS_PER_BATCH = 256;

export class RequestIds {
  readonly #nodeId: string;
  /** Base-36 digits of the counter; 8 gives 36^8 (2.8 * 10^12) ids before the random part changes. */
  readonly #counterDigits: number;
  readonly #counterLimit: number;
  readonly #idLength: number;
  #prefix: string;
  #next = 0;
  #batch = '';
  #left = 0;

  constructor(nodeId: string, counterDigits = 8) {
    this.#nodeId = nodeId;
    this.#counterDigits = counterDigits;
    this.#counterLimit = 36 ** counterDigits;
    this.#prefix = this.#newPrefix();
    this.#idLength = this.#prefix.length + counterDigits;
  }

  next(): string {
    if (this.#left === 0) this.#refill();
    const at = (IDS_PER_BATCH - this.#left--) * this.#idLength;
    return this.#batch.slice(at, at + this.#idLength);
  }

  #refill(): void {
    const ids: string[] = [];
    for (let i = 0; i < IDS_PER_BATCH; i++) {
      if (this.#next === this.#counterLimit) {
        // The counter would outgrow its width: a new random part starts a new series.
        this.#prefix = this.#newPrefix();
        this.#next = 0;
      }
      ids.push(this.#prefix + (this.#next++).toString(36).padStart(this.#counterDigits, '0'));
    }
    this.#batch = ids.join('');
    this.#left = IDS_PER_BATCH;
  }

  /** Node id, 6 random bytes (always 8 base64url characters) and a dash. */
  #newPrefix(): string {
    return `${this.#nodeId}-${randomBytes(6).toString('base64url')}-`;
  }
}
