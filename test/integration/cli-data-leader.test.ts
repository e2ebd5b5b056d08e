/**
 * `shoal status` shows each shard's replication, and `shoal data leader SHARD NODE` hands a
 * shard's leadership to another replica while writes keep going: none of them fails.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ClusterStatus } from '../../src/cluster/index.ts';
import type { ShardReplication } from '../../src/data/index.ts';
import { callGateway, cliStatus, freePortBase, isAlive, killLeftovers, removeDir, runCli, tempClusterDir } from '../support/cluster-harness.ts';
import { eventually } from '../support/eventually.ts';

describe('shoal data leader and replication in shoal status', { timeout: 240_000 }, () => {
  let dir = '';
  let gateway = '';
  const pids = new Set<number>();
  const remember = (status: ClusterStatus) => {
    pids.add(status.supervisorPid);
    for (const p of status.processes) if (p.pid !== null) pids.add(p.pid);
  };
  const shards = async (): Promise<ShardReplication[]> => {
    const status = (await cliStatus(dir)) as ClusterStatus & { shards: ShardReplication[] | null };
    return status.shards ?? [];
  };

  before(async () => {
    dir = await tempClusterDir();
    const up = await runCli(['up', '--detach', '--nodes', '3', '--dir', dir, '--port', String(await freePortBase(3))], 120_000);
    assert.equal(up.code, 0, up.stderr);
    const status = await cliStatus(dir);
    remember(status);
    gateway = status.gateway;
  });

  after(async () => {
    if ([...pids].some(isAlive)) await runCli(['down', '--dir', dir], 90_000);
    killLeftovers(pids);
    await removeDir(dir);
  });

  it('shows every shard on three replicas, led, in sync', async () => {
    await eventually(async () => {
      const list = await shards();
      return list.length === 3 && list.every((s) => s.replicas.length === 3 && s.leader !== null && !s.underReplicated && s.inSync.length === 3);
    }, { message: 'three fully replicated shards in status --json', timeoutMs: 60_000, intervalMs: 500 });
    const text = await runCli(['status', '--dir', dir]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /SHARD\s+SLOTS\s+LEADER\s+TERM\s+FOLLOWERS/);
    assert.equal(text.stdout.match(/ 3\/3 +ok/g)?.length, 3, text.stdout);
  });

  it('moves a shard\'s leadership to another replica without failing a write', async () => {
    const [shard] = await shards();
    const target = shard.replicas.find((n) => n !== shard.leader)!;
    let running = true;
    const failures: string[] = [];
    let acknowledged = 0;
    const writer = (async () => {
      for (let i = 0; running; i++) {
        const answer = await callGateway(gateway, 'links', 'create', { url: `https://example.com/leader-move-${i}` }, { version: 1 });
        if (answer.status === 200) acknowledged++;
        else failures.push(`${answer.status} ${answer.error}`);
      }
    })();
    const moved = await runCli(['data', 'leader', String(shard.id), target, '--dir', dir], 60_000);
    running = false;
    await writer;
    assert.equal(moved.code, 0, moved.stderr);
    assert.match(moved.stdout, new RegExp(`shard ${shard.id} is led by ${target}`));
    assert.deepEqual(failures, []);
    assert.ok(acknowledged > 0);
    const after = (await shards()).find((s) => s.id === shard.id)!;
    assert.equal(after.leader, target);
    assert.ok(after.term > shard.term);
  });

  it('refuses a node that is not a replica, and a shard that does not exist', async () => {
    const notReplica = await runCli(['data', 'leader', '1', 'node-9', '--dir', dir]);
    assert.equal(notReplica.code, 1);
    assert.match(notReplica.stderr, /node-9 is not a replica of shard 1/);
    const noShard = await runCli(['data', 'leader', '99', 'node-1', '--dir', dir]);
    assert.equal(noShard.code, 1);
    assert.match(noShard.stderr, /no shard 99/);
    const usage = await runCli(['data', 'leader', 'x', 'node-1', '--dir', dir]);
    assert.equal(usage.code, 2);
  });
});
