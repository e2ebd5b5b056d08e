import { tokenChar, valueChar } from './http-syntax.ts';

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
const TRAILER_NAME = 7;
const TRAILER_VALUE = 8;
const TRAILER_LF = 9;
const END_LF = 10;
const DONE = 11;

/**
 * Trailer fields that would change the message's framing or routing if a server merged the
 * trailer into the head (RFC 9110 6.5.1): a trailer carrying one is refused.
 */
const forbiddenTrailers = ['content-length', 'transfer-encoding', 'host'].map((name) => Buffer.from(name, 'latin1'));
const ALL_FORBIDDEN = (1 << forbiddenTrailers.length) - 1;

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
  /** While a trailer field name is read: its length, and which forbidden names it still matches. */
  #nameLength = 0;
  #nameMatches = 0;
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
          // Nothing but an extension or the line's end may follow the digits: no spaces, which
          // servers disagree on (one reads "5 " as 5, another refuses, a third stops at it).
          if (this.#digits === 0) return this.#fail();
          if (c === 13) state = SIZE_LF;
          else if (c === 0x3b) state = EXTENSION;
          else return this.#fail();
          i++;
          break;
        }
        case EXTENSION:
          if (c === 13) state = SIZE_LF;
          else if (valueChar[c] !== 1 || ++this.#metadata > MAX_METADATA) return this.#fail();
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
          if (c === 13) {
            state = END_LF;
          } else {
            // Field names only: no obsolete line folding, no bare LF.
            if (tokenChar[c] !== 1) return this.#fail();
            state = TRAILER_NAME;
            this.#nameLength = 0;
            this.#nameMatches = ALL_FORBIDDEN;
            this.#nameChar(c);
          }
          i++;
          break;
        case TRAILER_NAME:
          if (c === 0x3a) {
            if (this.#forbiddenName()) return this.#fail();
            state = TRAILER_VALUE;
          } else if (tokenChar[c] !== 1 || ++this.#metadata > MAX_METADATA) {
            return this.#fail();
          } else {
            this.#nameChar(c);
          }
          i++;
          break;
        case TRAILER_VALUE:
          if (c === 13) state = TRAILER_LF;
          else if (valueChar[c] !== 1 || ++this.#metadata > MAX_METADATA) return this.#fail();
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

  /** Narrows the forbidden names the trailer field name read so far still matches. */
  #nameChar(c: number): void {
    const at = this.#nameLength++;
    let matches = this.#nameMatches;
    if (matches === 0) return;
    const lower = c | 0x20;
    for (let k = 0; k < forbiddenTrailers.length; k++) {
      const name = forbiddenTrailers[k];
      if ((matches & (1 << k)) !== 0 && (at >= name.length || name[at] !== lower)) matches &= ~(1 << k);
    }
    this.#nameMatches = matches;
  }

  #forbiddenName(): boolean {
    for (let k = 0; k < forbiddenTrailers.length; k++) {
      if ((this.#nameMatches & (1 << k)) !== 0 && forbiddenTrailers[k].length === this.#nameLength) return true;
    }
    return false;
  }

  #fail(): number {
    this.#state = DONE;
    return FRAMING_ERROR;
  }
}
