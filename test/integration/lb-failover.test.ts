import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { send, startChildUpstream, startLb, steadyLoad, tempConfig, type ChildUpstream, type LbProcess } from '../support/lb-harness.ts';
import { eventually } from '../support/eventually.ts';

interface ServerState {
  url: string;
  healthy: boolean;
  ejected: boolean;
  weight: number;
}

async function serverState(adminUrl: string, url: string): Promise<ServerState> {
  const health = JSON.parse((await send(`${adminUrl}/healthz`)).body) as { backends: { web: { servers: ServerState[] } } };
  const state = health.backends.web.servers.find((server) => server.url === url);
  assert.ok(state, `${url} is in the backend`);
  return state;
}

describe('shoal lb fails over when an upstream dies, and takes it back', () => {
  const upstreams = new Map<string, ChildUpstream>();
  let lb: LbProcess;
  let config: Awaited<ReturnType<typeof tempConfig>>;

  before(async () => {
    for (const name of ['a', 'b', 'c']) upstreams.set(name, await startChildUpstream(name));
    config = await tempConfig(`accessLog: false
admin:
  address: 127.0.0.1:0
listeners:
  - address: 127.0.0.1:0
    backend: web
backends:
  web:
    algorithm: round-robin
    servers:
${[...upstreams.values()].map((u) => `      - url: ${u.url}`).join('\n')}
    healthCheck:
      path: /healthz
      interval: 200ms
      timeout: 500ms
      rise: 2
      fall: 2
    outlierDetection:
      consecutiveFailures: 1
      baseEjection: 1s
      maxEjection: 5s
      maxEjectedPercent: 50
    slowStart: 4s
    retries:
      max: 2
      budgetRatio: 0.5
      minPerSecond: 50
`);
    lb = await startLb(['--config', config.path]);
  });
  after(async () => {
    await lb?.stop();
    await Promise.all([...upstreams.values()].map((upstream) => upstream.kill()));
    await config?.remove();
  });

  it('loses no GET when an upstream is killed mid-load, ejects it, and ramps it back up after a restart', async () => {
    const url = lb.urls[0];
    const admin = lb.adminUrl!;
    const victim = upstreams.get('c')!;
    let killed: Promise<void> | undefined;
    const load = await steadyLoad(`${url}/work`, 3000, 8, (elapsed) => {
      if (elapsed > 1000 && killed === undefined) killed = victim.kill('SIGKILL');
    });
    await killed;
    assert.deepEqual(load.errors, [], 'GETs are retried on another server: no client saw an error');
    assert.ok((load.byUpstream.get('c') ?? 0) > 0, 'c served before it was killed');
    assert.ok((load.byUpstream.get('a') ?? 0) > 0 && (load.byUpstream.get('b') ?? 0) > 0);

    const metrics = (await send(`${admin}/metrics`)).body;
    const ejections = new RegExp(`shoal_lb_upstream_ejections_total\\{[^}]*upstream="${victim.url}"[^}]*\\} (\\d+)`).exec(metrics);
    assert.ok(ejections && Number(ejections[1]) >= 1, 'c was ejected by outlier detection');
    await eventually(async () => !(await serverState(admin, victim.url)).healthy, { message: 'active checks mark c down', timeoutMs: 15_000, intervalMs: 50 });

    const restarted = await startChildUpstream('c', victim.port);
    upstreams.set('c', restarted);
    await eventually(async () => {
      const state = await serverState(admin, victim.url);
      return state.healthy && !state.ejected;
    }, { message: 'active checks bring c back', timeoutMs: 15_000, intervalMs: 50 });

    // Slow start: c's weight starts low and grows, and so does its share of requests.
    const shares: number[] = [];
    const weights: number[] = [(await serverState(admin, victim.url)).weight];
    for (let round = 0; round < 12 && weights[weights.length - 1] < 1; round++) {
      const slice = await steadyLoad(`${url}/work`, 400, 4);
      assert.deepEqual(slice.errors, []);
      const total = [...slice.byUpstream.values()].reduce((sum, n) => sum + n, 0);
      shares.push((slice.byUpstream.get('c') ?? 0) / total);
      weights.push((await serverState(admin, victim.url)).weight);
    }
    assert.ok(weights[0] < 1, `c came back below full weight (weights ${weights.join(', ')})`);
    assert.equal(weights[weights.length - 1], 1, `c reached full weight (weights ${weights.join(', ')})`);
    const final = await steadyLoad(`${url}/work`, 500, 4);
    const finalTotal = [...final.byUpstream.values()].reduce((sum, n) => sum + n, 0);
    const finalShare = (final.byUpstream.get('c') ?? 0) / finalTotal;
    assert.ok(shares[0] < finalShare, `c's share grew: first ${shares[0].toFixed(3)}, at full weight ${finalShare.toFixed(3)}`);
    assert.ok(Math.abs(finalShare - 1 / 3) < 0.05, `at full weight c takes a third (${finalShare.toFixed(3)})`);
  });
});
