import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RequestIds } from '../../src/runtime/request-ids.ts';

test('request ids are unique, carry the node id, and survive crossing batches', () => {
  const ids = new RequestIds('node-7');
  const seen = new Set<string>();
  for (let i = 0; i < 2000; i++) {
    const id = ids.next();
    assert.match(id, /^node-7-[A-Za-z0-9_-]{8}-[0-9a-z]{8}$/);
    seen.add(id);
  }
  assert.equal(seen.size, 2000);
  assert.notEqual(new RequestIds('node-7').next(), new RequestIds('node-7').next(), 'two incarnations of a node differ');
});

test('when the counter runs out of digits a new random part starts, so ids stay unique and equally long', () => {
  const ids = new RequestIds('n', 1);
  const seen = new Set<string>();
  const prefixes = new Set<string>();
  for (let i = 0; i < 1000; i++) {
    const id = ids.next();
    assert.equal(id.length, 'n-'.length + 8 + 1 + 1);
    seen.add(id);
    prefixes.add(id.slice(0, -1));
  }
  assert.equal(seen.size, 1000);
  assert.ok(prefixes.size >= Math.ceil(1000 / 36), `a new random part every 36 ids (${prefixes.size})`);
});
