/**
 * Finds where a chunked message body ends, byte by byte across any split of the input, so
 * the balancer can pass chunked bodies through untouched and still know when a connection
 * is free for the next message. Optionally reports the data spans, for a peer that cannot
 * take chunked encoding (an HTTP/1.0 client).
 */

const SIZE = 0;
const EXTENSION = 1;
const SIZE_LF = 2;
const DATA = 3;
const DATA_CR = 4;
const DATA_LF = 5;
const TRAILER_START = 6;
const TRAILER = 7;
const TRAILER_LF = 8;
const END_LF = 9;
const DONE = 10;

/** Chunk sizes beyond 2^48 are refused rather than risk imprecise arithmetic. */
const MAX_SIZE_DIGITS = 12;
/** Extensions and trailers are metadata; more than this of either is abuse. */
const MAX_METADATA = 16 * 1024;

export const FRAMING_ERROR = -2;
export const NEED_MORE = -1;

export type DataSink = (buf: Buffer, start: number, end: number) => void;

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

export class ChunkedFramer {
  #state = SIZE;
  #size = 0;
  #digits = 0;
  #metadata = 0;
  /** Body data bytes seen so far (chunk framing excluded). */
  dataBytes = 0;

  get done(): boolean {
    return this.#state === DONE;
  }

  /**
   * Consumes buf[start, end). Returns the index just past the message's end when it ends
   * within, NEED_MORE when all of it belongs to the message, FRAMING_ERROR on malformed input.
   */
  feed(buf: Buffer, start: number, end: number, sink?: DataSink): number {
    let i = start;
    let state = this.#state;
    while (i < end) {
      const c = buf[i];
      switch (state) {
        case SIZE: {
          const value = hexValue(c);
          if (value >= 0) {
            if (++this.#digits > MAX_SIZE_DIGITS) return this.#fail();
            this.#size = this.#size * 16 + value;
            i++;
            break;
          }
          if (this.#digits === 0) return this.#fail();
          if (c === 13) state = SIZE_LF;
          else if (c === 0x3b || c === 0x20 || c === 9) state = EXTENSION;
          else return this.#fail();
          i++;
          break;
        }
        case EXTENSION:
          if (c === 13) state = SIZE_LF;
          else if (c === 10 || ++this.#metadata > MAX_METADATA) return this.#fail();
          i++;
          break;
        case SIZE_LF:
          if (c !== 10) return this.#fail();
          i++;
          state = this.#size === 0 ? TRAILER_START : DATA;
          break;
        case DATA: {
          const take = Math.min(this.#size, end - i);
          if (sink !== undefined) sink(buf, i, i + take);
          this.dataBytes += take;
          this.#size -= take;
          i += take;
          if (this.#size === 0) state = DATA_CR;
          break;
        }
        case DATA_CR:
          if (c !== 13) return this.#fail();
          state = DATA_LF;
          i++;
          break;
        case DATA_LF:
          if (c !== 10) return this.#fail();
          state = SIZE;
          this.#digits = 0;
          i++;
          break;
        case TRAILER_START:
          state = c === 13 ? END_LF : TRAILER;
          if (state === TRAILER && c === 10) return this.#fail();
          i++;
          break;
        case TRAILER:
          if (c === 13) state = TRAILER_LF;
          else if (c === 10 || ++this.#metadata > MAX_METADATA) return this.#fail();
          i++;
          break;
        case TRAILER_LF:
          if (c !== 10) return this.#fail();
          state = TRAILER_START;
          i++;
          break;
        case END_LF:
          if (c !== 10) return this.#fail();
          this.#state = DONE;
          return i + 1;
        default:
          return i;
      }
    }
    this.#state = state;
    return NEED_MORE;
  }

  #fail(): number {
    this.#state = DONE;
    return FRAMING_ERROR;
  }
}
