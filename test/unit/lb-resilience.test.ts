import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UpstreamCircuit, maxEjectable, OutlierDetector, RetryBudget, SLOW_START_FLOOR, slowStartFactor, TokenBucket } from '../../src/gateway/proxy/index.ts';

describe('TokenBucket', () => {
  it('allows a burst, then refills at the rate and says how long to wait', () => {
    const bucket = new TokenBucket(10, 5, 0);
    for (let i = 0; i < 5; i++) assert.equal(bucket.take(0), 0);
    const wait = bucket.take(0);
    assert.equal(wait, 100, 'one token every 100 ms at 10/s');
    assert.equal(bucket.take(100), 0);
    assert.ok(bucket.take(100) > 0);
    assert.equal(bucket.isFull(10_000), true, 'refills up to the burst, no further');
    for (let i = 0; i < 5; i++) assert.equal(bucket.take(10_000), 0);
    assert.ok(bucket.take(10_000) > 0);
  });
});

describe('RetryBudget', () => {
  it('allows retries up to the ratio of recent requests plus the floor', () => {
    const budget = new RetryBudget({ budgetRatio: 0.2, minPerSecond: 0 });
    for (let i = 0; i < 100; i++) budget.recordRequest(1000);
    let granted = 0;
    while (budget.tryRetry(1000)) granted++;
    assert.equal(granted, 20);
  });

  it('keeps a floor for a quiet balancer, and forgets requests older than its window', () => {
    const budget = new RetryBudget({ budgetRatio: 0.2, minPerSecond: 1 });
    let granted = 0;
    while (budget.tryRetry(0)) granted++;
    assert.equal(granted, 10, 'one per second over a ten-second window');
    for (let i = 0; i < 100; i++) budget.recordRequest(1000);
    assert.equal(budget.tryRetry(1000), true);
    assert.equal(budget.tryRetry(60_000), true, 'an old window is forgotten');
  });
});

describe('slow start', () => {
  it('ramps a returning server from 10% to its full weight', () => {
    assert.equal(slowStartFactor(0, 10_000), SLOW_START_FLOOR);
    const samples = [1000, 3000, 5000, 7000, 9000].map((t) => slowStartFactor(t, 10_000));
    for (let i = 1; i < samples.length; i++) assert.ok(samples[i] > samples[i - 1], `increasing: ${samples}`);
    assert.ok(Math.abs(slowStartFactor(5000, 10_000) - 0.55) < 0.051);
    assert.equal(slowStartFactor(10_000, 10_000), 1);
    assert.equal(slowStartFactor(50, 0), 1, 'off when the duration is 0');
  });
});

describe('OutlierDetector', () => {
  const config = { consecutiveFailures: 3, baseEjection: 1000, maxEjection: 2500, maxEjectedPercent: 50 };

  it('ejects after consecutive failures, longer each time, up to the cap', () => {
    const detector = new OutlierDetector(config);
    let now = 0;
    const ejectAgain = (): number => {
      let duration = 0;
      for (let i = 0; i < config.consecutiveFailures; i++) duration = detector.failure(now, true);
      return duration;
    };
    assert.equal(ejectAgain(), 1000);
    assert.equal(detector.isEjected(now + 999), true);
    now += 1000;
    assert.equal(detector.isEjected(now), false);
    assert.equal(ejectAgain(), 2000);
    now += 2000;
    assert.equal(ejectAgain(), 2500, 'capped at maxEjection');
  });

  it('does not eject on failures broken by a success, or when the pool has its maximum ejected', () => {
    const detector = new OutlierDetector(config);
    detector.failure(0, true);
    detector.failure(0, true);
    detector.success();
    assert.equal(detector.failure(0, true), 0);
    const capped = new OutlierDetector(config);
    for (let i = 0; i < 10; i++) assert.equal(capped.failure(0, false), 0);
    assert.equal(capped.isEjected(0), false);
  });

  it('never lets the ejected share empty the pool', () => {
    assert.equal(maxEjectable(3, 50), 1);
    assert.equal(maxEjectable(10, 50), 5);
    assert.equal(maxEjectable(2, 100), 1);
    assert.equal(maxEjectable(1, 100), 0);
  });
});

describe('UpstreamCircuit', () => {
  it('opens after consecutive failures, admits one trial when half-open, and closes on success', () => {
    const breaker = new UpstreamCircuit({ maxConcurrent: 2, consecutiveFailures: 2, openFor: 1000 });
    assert.equal(breaker.admit(0, 0), true);
    assert.equal(breaker.admit(2, 0), false, 'at the concurrency limit');
    breaker.failure(0);
    assert.equal(breaker.failure(0), true);
    assert.equal(breaker.admit(0, 500), false);
    assert.equal(breaker.admit(0, 1000), true, 'the trial request');
    assert.equal(breaker.admit(0, 1000), false, 'one trial at a time');
    assert.equal(breaker.failure(1000), true, 'a failed trial opens it again');
    assert.equal(breaker.admit(0, 1500), false);
    assert.equal(breaker.admit(0, 2000), true);
    assert.equal(breaker.success(), true);
    assert.equal(breaker.state(2000), 'closed');
  });
});
