import assert from 'node:assert/strict';
import { ShoalError } from '../../src/core/index.ts';

/** Awaits a promise that must reject with a ShoalError of `code`, and returns that error. */
export async function expectShoalError(promise: Promise<unknown>, code: string): Promise<ShoalError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof ShoalError, `expected a ShoalError, got ${String(err)}`);
    assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`);
    return err;
  }
  assert.fail(`expected a ${code} error, but the promise resolved`);
}
