/**
 * The pieces of `shoal chaos test` that decide things before any cluster is touched: the seeded
 * fault schedule, what an error means for the history, and the command's flags.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fateOfError, planFaults, type FaultKind } from '../../src/cluster/index.ts';
import { chaos } from '../../src/cli/commands/chaos.ts';
import { UsageError } from '../../src/cli/args.ts';
import { seededRandom, ShoalError } from '../../src/core/index.ts';

const plan = (seed: number, kinds: FaultKind[] = ['kill', 'partition', 'slow'], durationMs = 60_000, nodes = ['node-1', 'node-2', 'node-3']) =>
  planFaults({ durationMs, kinds, nodes, random: seededRandom(seed) });

describe('the fault schedule', () => {
  it('is the same for the same seed, whatever order the nodes come in, and another for another seed', () => {
    assert.deepEqual(plan(1), planFaults({ durationMs: 60_000, kinds: ['kill', 'partition', 'slow'], nodes: ['node-3', 'node-1', 'node-2'], random: seededRandom(1) }));
    assert.notDeepEqual(plan(1), plan(2));
  });

  it('puts one fault at a time inside the run, each of the kinds asked for, on the nodes given', () => {
    for (let seed = 0; seed < 50; seed++) {
      const faults = plan(seed, ['partition', 'slow'], 20_000);
      assert.ok(faults.length >= 3, `seed ${seed}: only ${faults.length} faults in 20 s`);
      let free = 0;
      for (const f of faults) {
        assert.ok(f.atMs >= free, `seed ${seed}: ${f.kind} at ${f.atMs} starts before the last one ended (${free})`);
        assert.ok(f.atMs < 20_000 && f.atMs + (f.forMs ?? 0) <= 20_000, `seed ${seed}: ${f.kind} at ${f.atMs} runs past the end`);
        assert.ok(['partition', 'slow'].includes(f.kind));
        assert.ok(['node-1', 'node-2', 'node-3'].includes(f.node));
        if (f.kind === 'slow') assert.ok(f.latencyMs !== undefined && f.latencyMs > 0);
        free = f.atMs + (f.forMs ?? 0);
      }
    }
  });

  it('fits a kill into a short run, and plans nothing without kinds or nodes', () => {
    const kills = plan(1, ['kill'], 8_000);
    assert.ok(kills.length >= 1 && kills.every((f) => f.kind === 'kill' && f.forMs === undefined));
    assert.deepEqual(plan(1, [], 8_000), []);
    assert.deepEqual(plan(1, ['kill'], 8_000, []), []);
  });
});

describe('what an error means for the history', () => {
  const fate = (code: ConstructorParameters<typeof ShoalError>[0], details?: unknown) => fateOfError(new ShoalError(code, 'x', details));

  it('a timeout, or a loss after sending, may have applied', () => {
    assert.equal(fate('TIMEOUT'), 'uncertain');
    assert.equal(fate('UNAVAILABLE'), 'uncertain');
    assert.equal(fate('UNAVAILABLE', { sent: true }), 'uncertain');
    assert.equal(fate('INTERNAL'), 'uncertain');
    assert.equal(fate('UNAVAILABLE', { sent: false, uncertain: true }), 'uncertain');
    assert.equal(fateOfError(new Error('socket hang up')), 'uncertain');
  });

  it('what was never sent, or refused by a check before any write, did not apply', () => {
    assert.equal(fate('UNAVAILABLE', { sent: false }), 'failed');
    assert.equal(fate('CIRCUIT_OPEN'), 'failed');
    assert.equal(fate('BAD_REQUEST'), 'failed');
    assert.equal(fate('CONFLICT', { redirect: true, mapVersion: 3 }), 'failed');
  });

  it('a version conflict or an absent document is the store answering no', () => {
    assert.equal(fate('CONFLICT'), 'refused');
    assert.equal(fate('NOT_FOUND'), 'refused');
  });
});

describe('shoal chaos test flags', () => {
  const refused = async (args: string[], message: RegExp) => {
    await assert.rejects(chaos(['test', ...args, '--dir', '/nonexistent-shoal-dir']), (err: unknown) => err instanceof UsageError && message.test(err.message));
  };

  it('refuses a bad duration, fault, count or seed before looking for a cluster', async () => {
    await refused(['--duration', 'soon'], /--duration must be a duration such as 100ms, 10s or 1m, got "soon"/);
    await refused(['--duration', '10ms'], /--duration must be from 1s to 1h/);
    await refused(['--faults', 'kill,partiton'], /"partiton" is none of them: did you mean partition\?/);
    await refused(['--faults', ''], /--faults takes a comma-separated list/);
    await refused(['--keys', '0'], /--keys must be from 1 to 1000/);
    await refused(['--clients', 'many'], /--clients must be an integer/);
    await refused(['--seed', '-1'], /--seed must be an integer/);
  });

  it('refuses the fault actions\' flags, and theirs its own', async () => {
    await refused(['--latency', '10ms'], /--latency is not an option of chaos test/);
    await assert.rejects(chaos(['kill', 'node-1', '--duration', '5s']), (err: unknown) => err instanceof UsageError && /--duration is not an option of chaos kill/.test(err.message));
    await refused(['node-1'], /unexpected argument "node-1"/);
  });
});
