import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkJsonValue, MAX_JSON_DEPTH, parseJsonBody, ShoalError } from '../../src/core/index.ts';

function nested(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = i % 2 === 0 ? [value] : { a: value };
  return value;
}

const codeOf = (fn: () => unknown) => {
  try {
    fn();
    return 'ok';
  } catch (err) {
    return err instanceof ShoalError ? err.code : String(err);
  }
};

describe('JSON bodies', () => {
  it('accepts nesting up to the limit and refuses one level more', () => {
    assert.equal(codeOf(() => checkJsonValue(nested(MAX_JSON_DEPTH))), 'ok');
    assert.equal(codeOf(() => checkJsonValue(nested(MAX_JSON_DEPTH + 1))), 'BAD_REQUEST');
  });

  it('refuses a hostile depth without overflowing the stack', () => {
    const text = '['.repeat(200_000) + ']'.repeat(200_000);
    assert.equal(codeOf(() => parseJsonBody(text)), 'BAD_REQUEST');
  });

  it('refuses lone surrogates in values and keys, and keeps surrogate pairs', () => {
    assert.equal(codeOf(() => parseJsonBody('{"url":"https://a.com/\\ud800x"}')), 'VALIDATION');
    assert.equal(codeOf(() => parseJsonBody('{"\\udc00":1}')), 'VALIDATION');
    assert.deepEqual(parseJsonBody('{"emoji":"\\ud83d\\ude00"}'), { emoji: '😀' });
  });

  it('reads an empty body as {} and names bad JSON', () => {
    assert.deepEqual(parseJsonBody(''), {});
    assert.throws(() => parseJsonBody('{"a":'), /not valid JSON/);
  });
});
