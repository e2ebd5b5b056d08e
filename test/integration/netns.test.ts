import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { once } from 'node:events';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { netnsSkipReason, TestNetwork, type NetnsHost } from '../support/netns.ts';
import { shell } from '../support/netns-shell.ts';

const probeChild = join(import.meta.dirname, '../support/netns-probe-child.ts');
const skip = await netnsSkipReason();

/** The first JSON line a child prints. */
async function firstLine(child: ChildProcess): Promise<Record<string, unknown>> {
  let buffered = '';
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  for await (const chunk of child.stdout!) {
    buffered += (chunk as Buffer).toString();
    const end = buffered.indexOf('\n');
    if (end >= 0) return JSON.parse(buffered.slice(0, end)) as Record<string, unknown>;
  }
  throw new Error(`child exited without a line (code ${child.exitCode}): ${stderr}`);
}

function probe(network: TestNetwork, host: NetnsHost, ...args: (string | number)[]): ChildProcess {
  return network.spawn(host, process.execPath, [probeChild, ...args.map(String)], { stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Does a TCP ping from `from` to the echo server reach it within `timeoutMs`? */
async function ping(network: TestNetwork, from: NetnsHost, to: NetnsHost, port: number, timeoutMs = 1_500): Promise<{ ok: boolean; rttMs?: number; error?: string }> {
  return (await firstLine(probe(network, from, 'tcp-ping', to.address, port, timeoutMs))) as { ok: boolean; rttMs?: number; error?: string };
}

/** A TCP connection from the root namespace (no namespace: where a control process runs). */
function connectsFromRoot(address: string, port: number, timeoutMs = 1_500): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ host: address, port });
    const timer = setTimeout(() => finish(false), timeoutMs);
    const finish = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      done(ok);
    };
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}

describe('a test network of namespaces on a bridge', { skip, timeout: 120_000 }, () => {
  let network: TestNetwork;
  let a: NetnsHost;
  let b: NetnsHost;
  const TCP_PORT = 7000;
  const UDP_PORT = 7001;

  before(async () => {
    network = await TestNetwork.create({ hosts: 2 });
    [a, b] = [network.host(1), network.host(2)];
    assert.equal((await firstLine(probe(network, a, 'tcp-echo', a.address, TCP_PORT))).listening, true);
    assert.equal((await firstLine(probe(network, a, 'udp-echo', a.address, UDP_PORT))).listening, true);
  });

  after(async () => {
    await network?.close();
  });

  it('gives each namespace its own address on the bridge and a working loopback', async () => {
    assert.notEqual(a.address, b.address);
    const addr = await network.exec(a, 'ip', ['-o', '-4', 'addr', 'show']);
    assert.match(addr.stdout, new RegExp(`inet ${a.address.replaceAll('.', '\\.')}/24`));
    assert.match(addr.stdout, /\blo\b.*inet 127\.0\.0\.1/);
    // Names are per run, so two test files running at once never share one.
    assert.ok(a.name.startsWith(network.runId) && network.bridge.startsWith(network.runId));
  });

  it('connects a client in one namespace to a server in another, stops after a cut and again after heal', async () => {
    assert.equal((await ping(network, b, a, TCP_PORT)).ok, true, 'before the cut');
    await network.cut(a, b);
    const cut = await ping(network, b, a, TCP_PORT);
    assert.equal(cut.ok, false, 'a connection across the cut');
    // Only the link between the two is cut: the root namespace still reaches a.
    assert.equal(await connectsFromRoot(a.address, TCP_PORT), true, 'root to a during the cut');
    await network.cut(a, b);
    await network.heal(a, b);
    assert.equal((await ping(network, b, a, TCP_PORT)).ok, true, 'after heal');
  });

  it('partitions one namespace from everyone, the root namespace included, until it rejoins', async () => {
    await network.partition(a);
    assert.equal((await ping(network, b, a, TCP_PORT)).ok, false, 'b to a during the partition');
    assert.equal(await connectsFromRoot(a.address, TCP_PORT), false, 'root to a during the partition');
    await network.rejoin(a);
    assert.equal((await ping(network, b, a, TCP_PORT)).ok, true, 'after rejoin');

    await network.partition(b);
    await network.healAll();
    assert.equal((await ping(network, b, a, TCP_PORT)).ok, true, 'after healAll');
  });

  it('loses some but not all datagrams with random loss, and none without', async () => {
    const burst = async () => (await firstLine(probe(network, b, 'udp-burst', a.address, UDP_PORT, 200))) as { sent: number; received: number };
    const clean = await burst();
    assert.equal(clean.received, clean.sent, 'no loss configured');
    await network.loseRandomly(b, 50);
    // With half of 200 datagrams and their echoes dropped, all or none arriving has odds of 2^-200.
    const lossy = await burst();
    assert.ok(lossy.received > 0 && lossy.received < lossy.sent, `received ${lossy.received} of ${lossy.sent} with 50% loss`);
    await network.clearImpairment(b);
    assert.equal((await burst()).received, 200, 'after the loss is cleared');
  });

  it('delays what a namespace sends with netem', async (t) => {
    const reason = await network.netemSkipReason();
    if (reason !== undefined) {
      t.skip(reason);
      return;
    }
    await network.impair(b, { delayMs: 100, jitterMs: 5 });
    // A lower bound that the delay guarantees, not a speed: a slow machine only adds to it.
    const slow = await ping(network, b, a, TCP_PORT, 10_000);
    assert.ok(slow.ok && slow.rttMs !== undefined && slow.rttMs >= 80, `rtt with 100 ms netem: ${JSON.stringify(slow)}`);
    await network.clearImpairment(b);
    assert.equal((await ping(network, b, a, TCP_PORT)).ok, true, 'after the impairment is cleared');
  });
});

describe('cleaning up a test network', { skip, timeout: 60_000 }, () => {
  const namespaces = async () => (await shell('ip', ['netns', 'list'])).stdout;
  const links = async () => (await shell('ip', ['-o', 'link', 'show'])).stdout;

  it('removes its namespaces and bridge on close', async () => {
    const network = await TestNetwork.create({ hosts: 2 });
    const names = network.hosts.map((h) => h.name);
    for (const name of names) assert.match(await namespaces(), new RegExp(`^${name}\\b`, 'm'));
    await network.close();
    const after = await namespaces();
    for (const name of names) assert.doesNotMatch(after, new RegExp(`^${name}\\b`, 'm'));
    assert.ok(!(await links()).includes(network.runId), 'no interface of the run is left');
  });

  it('sweeps what a killed run left when the next one starts', async () => {
    const holder = spawn(process.execPath, [probeChild, 'hold-network', '2'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const left = (await firstLine(holder)) as { bridge: string; namespaces: string[] };
    holder.kill('SIGKILL');
    await once(holder, 'exit');
    assert.match(await namespaces(), new RegExp(`^${left.namespaces[0]}\\b`, 'm'), 'the killed run left its namespaces');
    const next = await TestNetwork.create({ hosts: 1 });
    try {
      const now = await namespaces();
      for (const name of left.namespaces) assert.doesNotMatch(now, new RegExp(`^${name}\\b`, 'm'));
      assert.ok(!(await links()).includes(left.bridge), 'the killed run\'s bridge is gone');
    } finally {
      await next.close();
    }
  });
});
