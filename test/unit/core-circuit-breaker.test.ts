import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CircuitBreaker } from '../../src/core/index.ts';

describe('CircuitBreaker', () => {
  it('opens after the threshold of consecutive failures, and a success in between starts the count over', () => {
    const circuit = new CircuitBreaker({ failureThreshold: 3, openMs: 100 });
    assert.equal(circuit.failure(0), false);
    assert.equal(circuit.failure(0), false);
    circuit.success();
    assert.equal(circuit.failure(0), false);
    assert.equal(circuit.failure(0), false);
    assert.equal(circuit.failure(10), true, 'the third in a row opens it');
    assert.equal(circuit.state(10), 'open');
    assert.equal(circuit.admit(109), false);
  });

  it('lets one trial through once half-open; its success closes the circuit', () => {
    const circuit = new CircuitBreaker({ failureThreshold: 1, openMs: 100 });
    circuit.failure(0);
    assert.equal(circuit.available(100), true);
    assert.equal(circuit.admit(100), true, 'the trial');
    assert.equal(circuit.available(100), false, 'no second request while the trial is out');
    assert.equal(circuit.admit(100), false);
    assert.equal(circuit.success(), true);
    assert.equal(circuit.state(100), 'closed');
    assert.equal(circuit.admit(100), true);
  });

  it('a failed trial opens it for another full period', () => {
    const circuit = new CircuitBreaker({ failureThreshold: 5, openMs: 100 });
    for (let i = 0; i < 5; i++) circuit.failure(0);
    assert.equal(circuit.admit(100), true);
    assert.equal(circuit.failure(150), true);
    assert.equal(circuit.admit(249), false);
    assert.equal(circuit.admit(250), true);
  });

  it('takes new thresholds without losing its state', () => {
    const circuit = new CircuitBreaker({ failureThreshold: 10, openMs: 100 });
    circuit.failure(0);
    circuit.configure({ failureThreshold: 2, openMs: 100 });
    assert.equal(circuit.failure(0), true);
  });
});
