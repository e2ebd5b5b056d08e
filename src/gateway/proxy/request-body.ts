/**
 * A request body on its way from the client to the upstream: how much of it is still to come
 * (a Content-Length count, or a chunked framer that finds its end), and the bytes sent so far
 * while they are few enough to send again when the request is retried on another server.
 */
import { ChunkedFramer, FRAMING_ERROR, NEED_MORE } from './chunked-framer.ts';
import type { RequestHead } from './request-head.ts';

/** Request body bytes kept for a retry; a longer body is not retried once it has flowed. */
export const REPLAY_LIMIT = 64 * 1024;
/** `take` found the chunked body malformed. */
export const BODY_MALFORMED = FRAMING_ERROR;
/** `take` found the chunked body longer than the limit. */
export const BODY_TOO_LARGE = -3;

export class RequestBody {
  /** Bytes still to come with a Content-Length. */
  #remaining: number;
  readonly #framer: ChunkedFramer | undefined;
  #done = false;
  #replay: Buffer[] | undefined;
  #replayBytes = 0;

  /**
   * For a head with a body. `replayable` when a retry could send it again (an idempotent
   * method); other bodies keep nothing, as no retry will ask for them.
   */
  constructor(head: RequestHead, replayable: boolean) {
    this.#framer = head.chunked ? new ChunkedFramer() : undefined;
    this.#remaining = head.chunked ? 0 : head.contentLength;
    this.#replay = replayable ? [] : undefined;
  }

  /** The whole body was read from the client. */
  get done(): boolean {
    return this.#done;
  }

  /** Every byte sent so far is still at hand to send again. */
  get replayable(): boolean {
    return this.#replay !== undefined;
  }

  /** The bytes to send again, ahead of the rest, when a new try starts. */
  get replay(): readonly Buffer[] | undefined {
    return this.#replay;
  }

  /**
   * Measures body bytes in buf[start, end): returns where the body ended (or `end`),
   * BODY_MALFORMED, or BODY_TOO_LARGE when a chunked body passes `limit` (0: no limit).
   */
  take(buf: Buffer, start: number, end: number, limit: number): number {
    const framer = this.#framer;
    if (framer === undefined) {
      const stop = Math.min(end, start + this.#remaining);
      this.#remaining -= stop - start;
      if (this.#remaining === 0) this.#done = true;
      return stop;
    }
    const result = framer.feed(buf, start, end);
    if (result === FRAMING_ERROR) return BODY_MALFORMED;
    if (result !== NEED_MORE) this.#done = true;
    // A Content-Length is checked at admission; a chunked body's length shows only as it comes.
    if (limit > 0 && framer.dataBytes > limit) return BODY_TOO_LARGE;
    return result === NEED_MORE ? end : result;
  }

  /** Keeps a chunk that went upstream for a retry, until the body outgrows the replay limit. */
  keep(chunk: Buffer): void {
    const replay = this.#replay;
    if (replay === undefined) return;
    this.#replayBytes += chunk.length;
    if (this.#replayBytes <= REPLAY_LIMIT) replay.push(chunk);
    else this.#replay = undefined;
  }
}
