import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkZoneName, parseZoneList, zoneOfNode } from '../../src/cluster/zones.ts';
import { parseRoleArgs } from '../../src/cluster/roles/args.ts';
import { describeProcess } from '../../src/cluster/supervisor.ts';
import { formatStatus } from '../../src/cli/commands/status.ts';
import type { ClusterStatus } from '../../src/cluster/index.ts';

describe('spreading nodes over zones', () => {
  it('puts node-1 in the first zone, node-2 in the second, and wraps around', () => {
    const zones = ['a', 'b', 'c'];
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map((i) => zoneOfNode(i, zones)), ['a', 'b', 'c', 'a', 'b', 'c', 'a']);
    assert.deepEqual([1, 2, 3].map((i) => zoneOfNode(i, ['only'])), ['only', 'only', 'only']);
  });

  it('gives no zone when the cluster has none', () => {
    assert.equal(zoneOfNode(1, []), undefined);
  });

  it('refuses a node index that is not a positive integer', () => {
    for (const index of [0, -1, 1.5]) assert.throws(() => zoneOfNode(index, ['a']), RangeError);
  });
});

describe('zone names', () => {
  it('reads a comma-separated list, trimming spaces around names', () => {
    assert.deepEqual(parseZoneList('a,b,c'), ['a', 'b', 'c']);
    assert.deepEqual(parseZoneList(' eu-west-1 , eu-west-2 '), ['eu-west-1', 'eu-west-2']);
  });

  it('refuses empty names, names outside a-z 0-9 -, and a name listed twice', () => {
    assert.throws(() => parseZoneList(''), /empty name/);
    assert.throws(() => parseZoneList('a,,b'), /empty name/);
    assert.throws(() => parseZoneList('a,'), /empty name/);
    assert.throws(() => parseZoneList('a,a'), /listed twice/);
    for (const bad of ['A', 'a_b', 'a b', 'zone/1', 'é', 'x'.repeat(64)]) assert.throws(() => checkZoneName(bad), /not valid/, bad);
    assert.equal(checkZoneName('rack-7'), 'rack-7');
  });
});

describe('a role process\'s host and zone', () => {
  const base = ['--id', 'node-1', '--dir', '/tmp/x'];

  it('listens on 127.0.0.1 with no zone unless told otherwise', () => {
    const args = parseRoleArgs(base, {});
    assert.equal(args.host, '127.0.0.1');
    assert.equal(args.zone, undefined);
  });

  it('takes --host and --zone, else SHOAL_HOST and SHOAL_ZONE (for a node joined by hand)', () => {
    assert.deepEqual(pick(parseRoleArgs([...base, '--host', '10.77.0.2', '--zone', 'a'], { SHOAL_HOST: '10.0.0.9', SHOAL_ZONE: 'b' })), { host: '10.77.0.2', zone: 'a' });
    assert.deepEqual(pick(parseRoleArgs(base, { SHOAL_HOST: '10.77.0.3', SHOAL_ZONE: 'b' })), { host: '10.77.0.3', zone: 'b' });
    // Set but empty is the same as unset, as a shell's `SHOAL_ZONE= shoal …` means.
    assert.deepEqual(pick(parseRoleArgs(base, { SHOAL_HOST: '', SHOAL_ZONE: '' })), { host: '127.0.0.1', zone: undefined });
  });

  it('refuses a zone name that is not valid', () => {
    assert.throws(() => parseRoleArgs([...base, '--zone', 'Bad Zone'], {}), /not valid/);
    assert.throws(() => parseRoleArgs(base, { SHOAL_ZONE: 'a,b' }), /not valid/);
  });

  function pick(args: { host: string; zone?: string }) {
    return { host: args.host, zone: args.zone };
  }
});

describe('zones in the status', () => {
  const snapshot = { pid: 42, ready: true, restarts: 0, startedAt: null };
  const healthy = async () => ({ health: 'healthy', services: [] });

  it('carries a node\'s zone on its line, and none for a process without one', async () => {
    const node = await describeProcess('node-2', { role: 'node', address: '10.77.0.3:7502', url: 'http://10.77.0.3:7602', zone: 'b' }, snapshot, healthy);
    assert.equal(node.zone, 'b');
    const control = await describeProcess('control', { role: 'control', address: '127.0.0.1:7450', url: 'http://127.0.0.1:7450' }, snapshot, healthy);
    assert.equal('zone' in control, false, 'no zone key at all, so --json is as before');
  });

  it('shows a ZONE column only when some process has a zone', () => {
    const line = (id: string, zone?: string) => ({ id, role: 'node' as const, ...(zone ? { zone } : {}), pid: 1, address: 'h:1', url: 'http://h:1', health: 'healthy', services: [], restarts: 0, startedAt: null });
    const status = (processes: ClusterStatus['processes']): ClusterStatus => ({ state: 'running', supervisorPid: 1, gateway: 'g', dashboard: 'd', processes, rebalance: null });
    const zoned = formatStatus(status([line('node-1', 'a'), line('node-2')]));
    assert.match(zoned, /^ID\s+ROLE\s+ZONE\s+PID/m);
    assert.match(zoned, /^node-1\s+node\s+a\s+1\s/m);
    assert.match(zoned, /^node-2\s+node\s+-\s+1\s/m);
    assert.doesNotMatch(formatStatus(status([line('node-1')])), /ZONE/);
  });
});
