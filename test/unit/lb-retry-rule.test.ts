import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isIdempotent, retryVerdict, tryTimeoutMs, type FailedTry } from '../../src/gateway/proxy/index.ts';

/** A GET without a body that failed on its first try, with everything left for a retry. */
const retryable: FailedTry = {
  method: 'GET',
  hasBody: false,
  bodyReplayable: false,
  answered: false,
  tries: 1,
  maxRetries: 2,
  nowMs: 1_000,
  deadlineMs: 5_000,
  clientGone: false,
  serversLeft: 2,
  budgetLeft: true,
};

function verdict(change: Partial<FailedTry>): string {
  return retryVerdict({ ...retryable, ...change });
}

describe('retryVerdict', () => {
  it('retries a failed idempotent request with tries, time, servers and budget left', () => {
    assert.equal(verdict({}), 'retry');
  });

  it('retries only methods whose repetition is harmless', () => {
    for (const method of ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']) assert.equal(verdict({ method }), 'retry', method);
    for (const method of ['POST', 'PATCH', 'CONNECT']) assert.equal(verdict({ method }), 'not-idempotent', method);
    assert.equal(isIdempotent('get'), false, 'methods are case-sensitive');
  });

  it('retries a request with a body only while all of it can be sent again', () => {
    assert.equal(verdict({ method: 'PUT', hasBody: true, bodyReplayable: true }), 'retry');
    assert.equal(verdict({ method: 'PUT', hasBody: true, bodyReplayable: false }), 'body-not-replayable');
  });

  it('never retries once an answer reached the client', () => {
    assert.equal(verdict({ answered: true }), 'answered');
  });

  it('counts the first try apart from the retries', () => {
    assert.equal(verdict({ tries: 2, maxRetries: 2 }), 'retry', 'the second retry is the third try');
    assert.equal(verdict({ tries: 3, maxRetries: 2 }), 'no-retries-left');
    assert.equal(verdict({ tries: 1, maxRetries: 0 }), 'no-retries-left', 'retries turned off');
  });

  it('stops at the total timeout', () => {
    assert.equal(verdict({ nowMs: 4_999 }), 'retry');
    assert.equal(verdict({ nowMs: 5_000 }), 'past-deadline');
  });

  it('does not retry for a client that left', () => {
    assert.equal(verdict({ clientGone: true }), 'client-gone');
  });

  it('needs a server the request has not failed on', () => {
    assert.equal(verdict({ serversLeft: 1 }), 'retry');
    assert.equal(verdict({ serversLeft: 0 }), 'no-other-server');
    assert.equal(verdict({ serversLeft: -1 }), 'no-other-server', 'a failed server may have left the eligible set');
  });

  it('asks the budget last, so a spent budget is only reported when all else allows a retry', () => {
    assert.equal(verdict({ budgetLeft: false }), 'budget-spent');
    assert.equal(verdict({ budgetLeft: false, serversLeft: 0 }), 'no-other-server');
  });

  it('reports the first reason in the order the conditions are checked', () => {
    const everything: Partial<FailedTry> = { method: 'POST', hasBody: true, answered: true, tries: 9, nowMs: 9_000, clientGone: true, serversLeft: 0, budgetLeft: false };
    assert.equal(verdict(everything), 'not-idempotent');
    assert.equal(verdict({ ...everything, method: 'PUT' }), 'body-not-replayable');
    assert.equal(verdict({ ...everything, method: 'PUT', bodyReplayable: true }), 'answered');
  });
});

describe('tryTimeoutMs', () => {
  it('gives a try the per-try timeout, cut to what is left of the total, and at least 1 ms', () => {
    assert.equal(tryTimeoutMs(1_000, 10_000, 0), 1_000);
    assert.equal(tryTimeoutMs(1_000, 10_000, 9_400), 600);
    assert.equal(tryTimeoutMs(1_000, 10_000, 10_000), 1);
    assert.equal(tryTimeoutMs(1_000, 10_000, 12_000), 1);
  });
});
