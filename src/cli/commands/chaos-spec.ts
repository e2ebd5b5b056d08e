import { parseDuration } from '../../gateway/index.ts';
import { UsageError, type CommandSpec, type FlagValues } from '../args.ts';

/** A duration flag ("100ms", "10s", "1m") in milliseconds, the way `shoal lb` configs write them. */
export function durationOption(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = parseDuration(value);
  if (ms === undefined) throw new UsageError(`--${name} must be a duration such as 100ms, 10s or 1m, got "${value}"`);
  if (ms < 1) throw new UsageError(`--${name} must be at least 1ms`);
  return Math.round(ms);
}

export const chaosSpec = {
  name: 'chaos',
  summary: 'inject faults into a running cluster (kill, partition, slow, heal), or test it under them',
  usage:
    'kill NODE | partition NODE [--from NODE] [--for 10s] | slow NODE --latency 100ms [--jitter 20ms] [--from NODE] [--for 10s] | heal [NODE] | list\n' +
    '       shoal chaos test [--duration 60s] [--faults kill,partition,slow] [--keys 8] [--clients 8] [--seed N] [--json]',
  positionals: [
    { name: 'ACTION', help: 'kill, partition, slow, heal, list or test' },
    { name: 'NODE', help: 'the node to act on (e.g. node-2)' },
  ],
  flags: {
    from: { type: 'string', value: 'NODE', help: 'cut or slow only the link to this node (default: every peer)' },
    for: { type: 'string', value: 'DURATION', help: 'heal by itself after this long, e.g. 10s (default: until shoal chaos heal)' },
    latency: { type: 'string', value: 'DURATION', help: 'slow: added to each message and to each answer, e.g. 100ms' },
    jitter: { type: 'string', value: 'DURATION', help: 'slow: up to this much more, at random' },
    duration: { type: 'string', value: 'DURATION', help: 'test: how long the workload runs (default 60s)' },
    faults: { type: 'string', value: 'LIST', help: 'test: faults to inject, from kill, partition, slow, or none (default kill,partition)' },
    keys: { type: 'string', value: 'N', help: 'test: registers in use at a time (default 8; fresh ones every 1000 operations per key)' },
    clients: { type: 'string', value: 'N', help: 'test: concurrent clients (default 8; at most 4 on one key at a time)' },
    seed: { type: 'string', value: 'N', help: 'test: seed of the fault schedule and the workload (default: random; the report names it)' },
    json: { type: 'boolean', default: false, help: 'test: the report as JSON alone on stdout' },
  },
  notes:
    "Partitions and latency are injected in the nodes' transport (RPC between processes); the coordinator's own HTTP traffic is not cut. kill sends SIGKILL; the supervisor restarts the node with backoff.\n\n" +
    'chaos test runs a register workload (reads, writes, compare-and-sets, increments) on keys of its own in the built-in shoal_chaos collection, ' +
    'injects the faults on a schedule drawn from the seed, heals everything, reads every key back and checks the history is linearizable and no acknowledged write was lost. ' +
    'Exit codes: 0 linearizable and nothing lost, 1 otherwise, 2 bad usage.',
} as const satisfies CommandSpec;

/** The parsed flags of `shoal chaos`, global ones included. */
export type ChaosValues = FlagValues<typeof chaosSpec.flags> & { dir: string; port: string | undefined };

export const CHAOS_ACTIONS: readonly string[] = ['kill', 'partition', 'slow', 'heal', 'list', 'test'];
/** The flags only the fault actions take, and those only `chaos test` takes. */
export const FAULT_FLAGS = ['from', 'for', 'latency', 'jitter'] as const;
export const TEST_FLAGS = ['duration', 'faults', 'keys', 'clients', 'seed', 'json'] as const;
