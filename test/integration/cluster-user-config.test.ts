import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { ClusterStatus } from '../../src/cluster/index.ts';
import { callGateway, cliStatus, freePortBase, isAlive, killLeftovers, removeDir, repoRoot, runCli, tempClusterDir } from '../support/cluster-harness.ts';
import { eventually } from '../support/eventually.ts';

/** A user's own application, written the way README's "Writing a service" shows. */
function userConfig(): string {
  const core = pathToFileURL(join(repoRoot, 'src/core/index.ts')).href;
  return `
import { action, defineConfig, defineService, ShoalError, z } from '${core}';

export const greeterV1 = defineService({
  name: 'greeter',
  version: 1,
  actions: {
    hello: action({
      params: z.object({ name: z.string().min(1) }),
      idempotent: true,
      handler: async (ctx, { name }) => {
        await ctx.emit('greeted', { name });
        return { text: 'hello ' + name, node: ctx.nodeId };
      },
    }),
  },
});

export const greeterV2 = defineService({
  name: 'greeter',
  version: 2,
  actions: {
    hello: action({
      params: z.object({ name: z.string().min(1), polite: z.boolean().default(false) }),
      handler: (_ctx, { name, polite }) => ({ greeting: (polite ? 'good day, ' : 'hi, ') + name }),
    }),
  },
});

export const audit = defineService({
  name: 'audit',
  version: 1,
  actions: {
    greet: action({
      params: z.object({ name: z.string() }),
      handler: (ctx, { name }) => ctx.call(greeterV1, 'hello', { name }),
    }),
    count: action({
      params: z.object({ name: z.string() }),
      handler: async (ctx, { name }) => {
        const stored = await ctx.kv.get('greeted/' + name);
        if (!stored) throw new ShoalError('NOT_FOUND', 'nobody greeted ' + name);
        return { count: stored.value };
      },
    }),
  },
  events: {
    greeted: {
      schema: z.object({ name: z.string() }),
      handler: async (ctx, { name }) => {
        // Compare-and-set, so concurrent deliveries on several nodes never lose a count.
        for (;;) {
          const stored = await ctx.kv.get('greeted/' + name);
          try {
            await ctx.kv.put('greeted/' + name, ((stored?.value as number | undefined) ?? 0) + 1, { expectVersion: stored?.version ?? 0 });
            return;
          } catch (err) {
            if (!(err instanceof ShoalError) || err.code !== 'CONFLICT') throw err;
          }
        }
      },
    },
  },
});

export default defineConfig({ services: [greeterV1, greeterV2, audit] });
`;
}

describe("a user's own shoal.config.ts", { timeout: 180_000 }, () => {
  let dir = '';
  let gateway = '';
  const pids = new Set<number>();

  before(async () => {
    dir = await tempClusterDir();
    const port = await freePortBase();
    gateway = `http://127.0.0.1:${port}`;
    const config = join(dir, 'shoal.config.ts');
    await writeFile(config, userConfig());
    const up = await runCli(['up', '--detach', '--nodes', '2', '--dir', join(dir, 'cluster'), '--port', String(port), config], 120_000);
    assert.equal(up.code, 0, `up failed:\n${up.stdout}\n${up.stderr}`);
    const status: ClusterStatus = await cliStatus(join(dir, 'cluster'));
    pids.add(status.supervisorPid);
    for (const p of status.processes) if (p.pid !== null) pids.add(p.pid);
  });

  after(async () => {
    if ([...pids].some(isAlive)) await runCli(['down', '--dir', join(dir, 'cluster')]);
    killLeftovers(pids);
    await removeDir(dir);
  });

  it('runs its services on every node, both versions side by side', async () => {
    const status = await cliStatus(join(dir, 'cluster'));
    const nodes = status.processes.filter((p) => p.role === 'node');
    assert.equal(nodes.length, 2);
    for (const node of nodes) {
      for (const service of ['greeter@1', 'greeter@2', 'audit@1']) assert.ok(node.services.includes(service), `${node.id} serves ${service}`);
    }
    const v1 = await callGateway(gateway, 'greeter', 'hello', { name: 'ann' }, { version: 1 });
    assert.equal(v1.status, 200, JSON.stringify(v1.body));
    assert.equal((v1.body as { text: string }).text, 'hello ann');
    const v2 = await callGateway(gateway, 'greeter', 'hello', { name: 'ann', polite: true }, { version: 2 });
    assert.deepEqual(v2.body, { greeting: 'good day, ann' });
  });

  it('answers 422 listing the bad field, and 404 for a version it does not have', async () => {
    const invalid = await callGateway(gateway, 'greeter', 'hello', { name: '' }, { version: 1 });
    assert.equal(invalid.status, 422);
    const fields = (invalid.body as { error: { code: string; details: { fields: Array<{ field: string }> } } }).error;
    assert.equal(fields.code, 'VALIDATION');
    assert.deepEqual(
      fields.details.fields.map((f) => f.field),
      ['name'],
    );
    const missing = await callGateway(gateway, 'greeter', 'hello', { name: 'ann' }, { version: 3 });
    assert.equal(missing.status, 404);
  });

  it('calls between its services and delivers its events', async () => {
    const names = ['bo', 'cy'];
    for (const name of names) {
      for (let i = 0; i < 3; i++) {
        const greeted = await callGateway(gateway, 'audit', 'greet', { name });
        assert.equal(greeted.status, 200, JSON.stringify(greeted.body));
        assert.equal((greeted.body as { text: string }).text, `hello ${name}`);
      }
    }
    for (const name of names) {
      await eventually(async () => {
        const counted = await callGateway(gateway, 'audit', 'count', { name });
        return counted.status === 200 && (counted.body as { count: number }).count === 3;
      }, { message: `three greeted events for ${name}`, timeoutMs: 30_000, intervalMs: 200 });
    }
    const nobody = await callGateway(gateway, 'audit', 'count', { name: 'nobody' });
    assert.equal(nobody.status, 404);
  });
});
