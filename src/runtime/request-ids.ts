/**
 * Request ids: unique across the cluster and cheap to make, since every call needs one. A
 * process takes its node id plus random bits once, then counts. The node id keeps ids apart
 * between nodes, the random part between incarnations of one node (a restarted node starts
 * counting again), and the counter within one process.
 */
import { randomBytes } from 'node:crypto';

export class RequestIds {
  readonly #prefix: string;
  #next = 0;

  constructor(nodeId: string) {
    this.#prefix = `${nodeId}-${randomBytes(6).toString('base64url')}-`;
  }

  next(): string {
    return this.#prefix + (this.#next++).toString(36);
  }
}
