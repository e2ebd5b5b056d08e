/**
 * Fuzz of the request head parser. Generated valid heads parse to what was generated, and the
 * head forwarded upstream parses again to the same message with the same framing (one message
 * in, one out). Mutated heads get the verdict of a reference parser written line by line from
 * RFC 9110/9112 with the balancer's documented strictness, status included.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { clientOrigin, isHeadError, noLookups, parseRequestHead, upstreamHead } from '../../src/gateway/proxy/index.ts';
import { checkProperty } from '../support/fuzz-budget.ts';

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const HOST = /^(\[[A-Za-z0-9\-._~!$&'()*+,;=%:]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]*)(:[0-9]*)?$/;
const FRAMING = new Set(['content-length', 'transfer-encoding', 'host']);

interface Verdict {
  status: number;
  method?: string;
  target?: string;
  contentLength?: number;
  chunked?: boolean;
  host?: string;
}

/** The Transfer-Encoding verdict: 0 a lone chunked, 400 malformed, 501 other codings. */
function transferCoding(value: string): number {
  if (value.toLowerCase() === 'chunked') return 0;
  let chunkedSeen = false;
  for (const element of value.split(',')) {
    const name = /^[ \t]*([!#$%&'*+\-.^_`|~0-9A-Za-z]*)/.exec(element)![1];
    if (name === '' || chunkedSeen) return 400;
    chunkedSeen = name.toLowerCase() === 'chunked';
    const rest = element.slice(element.indexOf(name) + name.length);
    if (chunkedSeen && !/^[ \t]*$/.test(rest)) return 400;
  }
  return 501;
}

/** The reference verdict for a head `text` that ends with its blank line. */
function reference(text: string): Verdict {
  const lines = text.slice(0, -4).split('\r\n');
  const line = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([\x21-\x7e]+) HTTP\/1\.([01])$/.exec(lines[0]);
  if (!line) return { status: 400 };
  const [, method, target, minor] = line;
  if (!target.startsWith('/') && !(target === '*' && method === 'OPTIONS') && method !== 'CONNECT') return { status: 400 };
  let host: string | undefined;
  let contentLength: number | undefined;
  let te: string | undefined;
  const listed = new Set<string>();
  for (const field of lines.slice(1)) {
    const match = /^([^:]*):[ \t]*(.*)$/s.exec(field);
    if (!match || !TOKEN.test(match[1])) return { status: 400 };
    const value = match[2].replace(/[ \t]+$/, '');
    if (!/^[\t\x20-\x7e\x80-\xff]*$/.test(match[2])) return { status: 400 };
    const name = match[1].toLowerCase();
    if (name === 'host') {
      if (host !== undefined) return { status: 400 };
      if (value.length > 255 || !HOST.test(value)) return { status: 400 };
      host = value;
    } else if (name === 'content-length') {
      if (contentLength !== undefined || !/^[0-9]{1,15}$/.test(value)) return { status: 400 };
      contentLength = Number(value);
    } else if (name === 'transfer-encoding') {
      if (te !== undefined) return { status: 400 };
      te = value;
      const coding = transferCoding(value);
      if (coding !== 0) return { status: coding };
    } else if (name === 'connection') {
      for (const option of value.split(',')) listed.add(option.trim().toLowerCase());
    }
  }
  const chunked = te !== undefined;
  if (chunked && contentLength !== undefined) return { status: 400 };
  if (host === undefined && minor === '1') return { status: 400 };
  if (minor === '0' && chunked) return { status: 400 };
  if (method === 'CONNECT') return { status: 501 };
  for (const name of FRAMING) if (listed.has(name)) return { status: 400 };
  return { status: 0, method, target, contentLength: contentLength ?? -1, chunked, host };
}

function parse(text: string): Verdict {
  const buf = Buffer.from(text, 'latin1');
  const head = parseRequestHead(buf, buf.length, noLookups);
  if (isHeadError(head)) return { status: head.status };
  return {
    status: 0,
    method: head.method,
    target: head.target,
    contentLength: head.contentLength,
    chunked: head.chunked,
    host: head.hostStart === -1 ? undefined : buf.toString('latin1', head.hostStart, head.hostEnd),
  };
}

function forward(text: string): string {
  const buf = Buffer.from(text, 'latin1');
  const head = parseRequestHead(buf, buf.length, noLookups);
  assert.ok(!isHeadError(head));
  return upstreamHead(head, clientOrigin('192.0.2.1', 'http'), '10.0.0.1:80', { traceBuf: undefined, traceAt: 0 }).toString('latin1');
}

const method = fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'PROPFIND');
const target = fc.string({ unit: fc.constantFrom('a', 'Z', '0', '/', '?', '=', '&', '%', '-', '.', '~', ':', '@', '!', '*'), maxLength: 30 }).map((path) => `/${path}`);
const host = fc.constantFrom('example.com', 'shop.example:8080', '127.0.0.1', '[::1]:443', 'a-b.c_d~e', '');
const otherName = fc.constantFrom('Accept', 'X-Api-Key', 'User-Agent', 'Cookie', 'X-Custom-Header', 'Keep-Alive', 'TE', 'Upgrade', 'X-Forwarded-For', 'Forwarded');
const fieldValue = fc.string({ unit: fc.constantFrom('a', ' ', '\t', ',', ';', '=', '"', '\u00e9', '/', '*'), maxLength: 20 }).map((value) => value.trim());
const casing = (name: string): fc.Arbitrary<string> => fc.array(fc.boolean(), { minLength: name.length, maxLength: name.length }).map((upper) => [...name].map((c, i) => (upper[i] ? c.toUpperCase() : c.toLowerCase())).join(''));

/** A valid head, and the framing it was generated with. */
const validHead = fc
  .record({
    method,
    target,
    host,
    framing: fc.constantFrom('none', 'length', 'chunked'),
    length: fc.nat(1_000_000),
    others: fc.array(fc.tuple(otherName, fieldValue), { maxLength: 6 }),
    connection: fc.constantFrom(undefined, 'close', 'keep-alive', 'x-custom-header', 'close, accept'),
    hostName: casing('host'),
    lengthName: casing('content-length'),
    teName: casing('transfer-encoding'),
    ows: fc.constantFrom('', ' ', '\t', '  '),
  })
  .map((g) => {
    let text = `${g.method} ${g.target} HTTP/1.1\r\n${g.hostName}:${g.ows}${g.host}${g.ows}\r\n`;
    for (const [name, value] of g.others) text += `${name}: ${value}\r\n`;
    if (g.framing === 'length') text += `${g.lengthName}: ${g.length}\r\n`;
    if (g.framing === 'chunked') text += `${g.teName}:${g.ows}chunked\r\n`;
    if (g.connection !== undefined) text += `Connection: ${g.connection}\r\n`;
    return { text: `${text}\r\n`, g };
  });

const junk = fc.constantFrom(' ', '\t', '\r', '\n', ':', ',', '/', '*', '@', '"', '\u0000', '\u007f', '\u0080', '\u00ff', 'chunked', ', chunked', 'Content-Length: 1\r\n', 'Host: h\r\n', 'Transfer-Encoding: chunked\r\n', 'Connection: host\r\n', 'HTTP/1.0', '0');
const mutatedHead = fc
  .tuple(validHead, fc.array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom('insert', 'replace', 'delete'), junk), { minLength: 1, maxLength: 3 }))
  .map(([{ text }, edits]) => {
    let body = text.slice(0, -2);
    for (const [where, kind, bytes] of edits) {
      const at = Math.floor(where * body.length);
      if (kind === 'insert') body = body.slice(0, at) + bytes + body.slice(at);
      else if (kind === 'replace') body = body.slice(0, at) + bytes + body.slice(at + 1);
      else body = body.slice(0, at) + body.slice(at + 1);
    }
    // As the listener does: the head is what comes before the first blank line.
    const full = `${body}\r\n`;
    const end = full.indexOf('\r\n\r\n');
    return end === -1 ? undefined : full.slice(0, end + 4);
  })
  .filter((text): text is string => text !== undefined && !text.startsWith('\r\n'));

describe('request head parser fuzz', () => {
  it('parses generated heads to what was generated, and forwards one message with the same framing', () => {
    checkProperty(
      'request head: valid heads forwarded',
      1000,
      fc.property(validHead, ({ text, g }) => {
        const parsed = parse(text);
        assert.equal(parsed.status, 0, text);
        assert.equal(parsed.method, g.method);
        assert.equal(parsed.target, g.target);
        assert.equal(parsed.host, g.host);
        assert.equal(parsed.chunked, g.framing === 'chunked');
        assert.equal(parsed.contentLength, g.framing === 'length' ? g.length : -1);
        const out = forward(text);
        assert.equal(out.indexOf('\r\n\r\n'), out.length - 4, 'exactly one head');
        const again = parse(out);
        assert.deepEqual(again, parsed, 'the forwarded head frames the same message');
        assert.equal((out.match(/\r\ncontent-length:/gi) ?? []).length, g.framing === 'length' ? 1 : 0);
        assert.equal((out.match(/\r\ntransfer-encoding:/gi) ?? []).length, g.framing === 'chunked' ? 1 : 0);
        assert.equal((out.match(/\r\nhost:/gi) ?? []).length, 1);
      }),
    );
  });

  it('gives mutated heads the reference verdict, and forwards what it accepts with the same framing', () => {
    checkProperty(
      'request head: mutated heads against the reference',
      6000,
      fc.property(mutatedHead, (text) => {
        const parsed = parse(text);
        assert.deepEqual(parsed, reference(text), JSON.stringify(text));
        if (parsed.status === 0) assert.deepEqual(parse(forward(text)), parsed.host === undefined ? { ...parsed, host: '10.0.0.1:80' } : parsed);
      }),
    );
  });
});
