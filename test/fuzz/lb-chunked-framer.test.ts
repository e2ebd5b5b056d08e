/**
 * Fuzz of the chunked framer: generated bodies are framed exactly (end found at the body's end,
 * data decoded, the next message untouched) however the bytes are split; mutated bodies get the
 * same verdict as a reference parser written from RFC 9112 7.1, again for every split.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ChunkedFramer } from '../../src/gateway/proxy/index.ts';
import { checkProperty, cutsOf, fractions, piecesOf } from '../support/fuzz-budget.ts';

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const FORBIDDEN = new Set(['content-length', 'transfer-encoding', 'host']);

/**
 * The reference: where a chunked body at the start of `text` ends (index past it), 'error',
 * or 'more' when it is incomplete. Written line by line from the grammar, with the balancer's
 * documented strictness: no whitespace after the size, extensions of field-value bytes, no
 * framing or Host fields in the trailer, at most 12 hex digits, metadata within 16 KB.
 */
function reference(text: string): number | 'error' | 'more' {
  let at = 0;
  let metadata = 0;
  for (;;) {
    const lineEnd = text.indexOf('\r\n', at);
    const line = lineEnd === -1 ? text.slice(at) : text.slice(at, lineEnd);
    const size = /^[0-9a-fA-F]*/.exec(line)![0];
    if (size.length > 12) return 'error';
    if (size.length === 0) return line.length === 0 && lineEnd === -1 ? 'more' : 'error';
    const rest = line.slice(size.length);
    if (rest.length > 0 && (rest[0] !== ';' || !VALUE.test(rest.slice(1)) || rest.includes('\r') || rest.includes('\n'))) {
      // A bare CR followed by something other than LF, or a byte an extension may not hold.
      return lineEnd === -1 && /^(;[\t\x20-\x7e\x80-\xff]*)?\r?$/.test(rest) ? 'more' : 'error';
    }
    metadata += Math.max(0, rest.length - 1);
    if (metadata > 16 * 1024) return 'error';
    if (lineEnd === -1) return 'more';
    const length = parseInt(size, 16);
    at = lineEnd + 2;
    if (length === 0) break;
    if (text.length < at + length + 2) {
      if (text.length <= at + length) return 'more';
      if (text.length === at + length + 1) return text[at + length] === '\r' ? 'more' : 'error';
    }
    if (text.slice(at + length, at + length + 2) !== '\r\n') return 'error';
    at += length + 2;
  }
  // Trailer fields until an empty line.
  for (;;) {
    const lineEnd = text.indexOf('\r\n', at);
    const line = lineEnd === -1 ? text.slice(at) : text.slice(at, lineEnd);
    if (lineEnd === -1) {
      // Incomplete: an error only if what is there already cannot become a field line.
      if (line === '' || line === '\r') return 'more';
      const colon = line.indexOf(':');
      const name = colon === -1 ? line.replace(/\r$/, '') : line.slice(0, colon);
      if (name.length > 0 && !TOKEN.test(name)) return 'error';
      if (name.length === 0 && line !== '\r') return 'error';
      if (colon !== -1 && FORBIDDEN.has(name.toLowerCase())) return 'error';
      if (colon !== -1 && !VALUE.test(line.slice(colon + 1).replace(/\r$/, ''))) return 'error';
      metadata += line.length;
      return metadata > 16 * 1024 ? 'error' : 'more';
    }
    at = lineEnd + 2;
    if (line === '') return at;
    const colon = line.indexOf(':');
    if (colon <= 0 || !TOKEN.test(line.slice(0, colon)) || !VALUE.test(line.slice(colon + 1)) || line.includes('\r') || line.includes('\n')) return 'error';
    if (FORBIDDEN.has(line.slice(0, colon).toLowerCase())) return 'error';
    metadata += line.length - 1;
    if (metadata > 16 * 1024) return 'error';
  }
}

interface Framed {
  result: number | 'error' | 'more';
  data: string;
}

/** Feeds `buf` to a fresh framer in the given pieces. */
function frame(buf: Buffer, cuts: readonly number[]): Framed {
  const framer = new ChunkedFramer();
  let data = '';
  const sink = (b: Buffer, start: number, end: number): void => {
    data += b.toString('latin1', start, end);
  };
  let offset = 0;
  for (const piece of piecesOf(buf, cuts)) {
    const end = framer.feed(piece, 0, piece.length, sink);
    if (end === -2) return { result: 'error', data };
    if (end >= 0) return { result: offset + end, data };
    offset += piece.length;
  }
  return { result: 'more', data };
}

const chunkData = fc.string({ unit: fc.constantFrom('a', 'Z', '\r', '\n', '0', ';', ':', '\u00ff'), maxLength: 40 });
const extension = fc.option(fc.constantFrom(';a', ';name=value', ';x="q;u\\"oted"', ';a;b=1'), { nil: undefined });
const trailerName = fc.constantFrom('X-Trailer', 'Expires', 'Content-Lengths', 'Host-Name', 'X-Host', 'ETag');
const trailer = fc.array(fc.tuple(trailerName, fc.constantFrom('', 'v', ' padded ', 'a:b')), { maxLength: 3 });

/** A valid chunked body: its bytes and its data. */
const validBody = fc.tuple(fc.array(fc.tuple(chunkData.filter((s) => s.length > 0), extension, fc.boolean()), { maxLength: 5 }), extension, trailer).map(([chunks, lastExtension, fields]) => {
  let text = '';
  let data = '';
  for (const [content, ext, upper] of chunks) {
    const size = content.length.toString(16);
    text += `${upper ? size.toUpperCase() : size}${ext ?? ''}\r\n${content}\r\n`;
    data += content;
  }
  text += `0${lastExtension ?? ''}\r\n`;
  for (const [name, value] of fields) text += `${name}:${value}\r\n`;
  text += '\r\n';
  return { text, data };
});

const junk = fc.constantFrom(' ', '\t', '\r', '\n', ':', ';', '0', 'f', 'g', 'Content-Length', 'Host', '\u0000', '\u0080', '\r\n', '\r\n\r\n');
/** A valid body with a few bytes inserted, replaced or deleted. */
const mutatedBody = fc
  .tuple(validBody, fc.array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom('insert', 'replace', 'delete'), junk), { minLength: 1, maxLength: 3 }))
  .map(([body, edits]) => {
    let text = body.text;
    for (const [where, kind, bytes] of edits) {
      const at = Math.floor(where * text.length);
      if (kind === 'insert') text = text.slice(0, at) + bytes + text.slice(at);
      else if (kind === 'replace') text = text.slice(0, at) + bytes + text.slice(at + 1);
      else text = text.slice(0, at) + text.slice(at + 1);
    }
    return text;
  });

describe('chunked framer fuzz', () => {
  it('frames a valid body exactly, for every split, and leaves the next message untouched', () => {
    checkProperty(
      'chunked framer: valid bodies',
      1000,
      fc.property(validBody, fractions(), ({ text, data }, cutFractions) => {
        const next = 'GET / HTTP/1.1\r\n';
        const buf = Buffer.from(text + next, 'latin1');
        const framed = frame(buf, cutsOf(buf.length, cutFractions));
        assert.equal(framed.result, text.length);
        assert.equal(framed.data, data);
        assert.equal(reference(text + next), text.length, 'the reference agrees');
      }),
    );
  });

  it('gives mutated bodies the reference verdict, the same for every split', () => {
    checkProperty(
      'chunked framer: mutated bodies',
      5000,
      fc.property(mutatedBody, fractions(), (text, cutFractions) => {
        const buf = Buffer.from(text, 'latin1');
        const whole = frame(buf, []);
        assert.deepEqual(frame(buf, cutsOf(buf.length, cutFractions)).result, whole.result, 'split and whole agree');
        assert.deepEqual(whole.result, reference(text), 'framer and reference agree');
      }),
    );
  });
});
