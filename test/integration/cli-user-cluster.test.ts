import assert from 'node:assert/strict';
import { access, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { ClusterStatus } from '../../src/cluster/index.ts';
import { cliStatus, freePortBase, isAlive, killLeftovers, removeDir, repoRoot, runCli, tempClusterDir } from '../support/cluster-harness.ts';
import { eventually } from '../support/eventually.ts';

const core = pathToFileURL(join(repoRoot, 'src/core/index.ts')).href;
const data = pathToFileURL(join(repoRoot, 'src/data/index.ts')).href;

/** A user's app with a collection, whose first action is `notes.add`. */
const notesConfig = `
import { action, defineConfig, defineService, z } from '${core}';
import { defineCollection } from '${data}';

const notes = defineCollection({ name: 'notes', key: 'id' });

export const notesService = defineService({
  name: 'notes',
  version: 3,
  actions: {
    add: action({
      params: z.object({ text: z.string().min(1), tag: z.string().optional() }),
      handler: async (ctx, { text }) => {
        const id = Math.random().toString(36).slice(2);
        await ctx.data.collection(notes).insert({ id, text });
        return { id, text };
      },
    }),
  },
});

export default defineConfig({ services: [notesService], collections: [notes] });
`;

describe('shoal up and rebalance on a user config', { timeout: 240_000 }, () => {
  let dir = '';
  let cluster = '';
  let port = 0;
  const pids = new Set<number>();
  const remember = (status: ClusterStatus) => {
    pids.add(status.supervisorPid);
    for (const p of status.processes) if (p.pid !== null) pids.add(p.pid);
  };

  before(async () => {
    dir = await tempClusterDir();
    cluster = join(dir, 'cluster');
    port = await freePortBase();
  });

  after(async () => {
    if ([...pids].some(isAlive)) await runCli(['down', '--dir', cluster], 90_000);
    killLeftovers(pids);
    await removeDir(dir);
  });

  it('names a service whose started hook throws, exits non-zero and never reports ready', async () => {
    const config = join(dir, 'broken.ts');
    await writeFile(
      config,
      `import { action, defineConfig, defineService, z } from '${core}';
const fine = defineService({ name: 'fine', version: 1, actions: { ping: action({ params: z.object({}), handler: () => 'pong' }) } });
const broken = defineService({ name: 'broken', version: 3, actions: {}, started: () => { throw new Error('cannot open the widget store'); } });
export default defineConfig({ services: [fine, broken] });
`,
    );
    const brokenDir = join(dir, 'broken-cluster');
    for (const detach of [false, true]) {
      const result = await runCli(['up', config, '--nodes', '1', '--dir', brokenDir, '--port', String(port), ...(detach ? ['--detach'] : [])], 120_000);
      assert.notEqual(result.code, 0, result.stdout);
      assert.match(result.stderr, /service broken@3 failed to start: its started hook threw: cannot open the widget store/);
      assert.doesNotMatch(result.stdout, /cluster ready/);
      await assert.rejects(access(join(brokenDir, 'supervisor.json')), 'no supervisor is left running');
    }
  });

  it('hints a call to the config\'s own first action, keeping --port and --dir', async () => {
    const config = join(dir, 'shoal.config.ts');
    await writeFile(config, notesConfig);
    // The directory holding shoal.config.ts stands for the file.
    const up = await runCli(['up', dir, '--detach', '--nodes', '2', '--dir', cluster, '--port', String(port)], 120_000);
    assert.equal(up.code, 0, `up failed:\n${up.stdout}\n${up.stderr}`);
    remember(await cliStatus(cluster));
    const hint = /^try: +(.+)$/m.exec(up.stdout)?.[1];
    assert.equal(hint, `shoal call notes.add '{"text":"text"}' --version 3 --port ${port} --dir ${cluster}`);

    const called = await runCli(['call', 'notes.add', '{"text":"text"}', '--version', '3', '--port', String(port), '--dir', cluster]);
    assert.equal(called.code, 0, called.stderr);
    assert.equal((JSON.parse(called.stdout) as { text: string }).text, 'text');
  });

  it('reports this pass on a balanced cluster: 0 moves, not the last pass\'s', async () => {
    const scaled = await runCli(['scale', '3', '--dir', cluster], 120_000);
    assert.equal(scaled.code, 0, scaled.stderr);
    // The new node's share moves on its own; wait until that pass has finished.
    const moved = await eventually(async () => {
      const status = await cliStatus(cluster);
      remember(status);
      const progress = status.rebalance;
      return progress && progress.state === 'idle' && progress.movesDone > 0 ? progress : undefined;
    }, { message: 'the pass for node-3 done', timeoutMs: 90_000, intervalMs: 250 });
    assert.ok(moved.movesDone > 0);

    const json = await runCli(['rebalance', '--json', '--dir', cluster], 120_000);
    assert.equal(json.code, 0, json.stderr);
    const answer = JSON.parse(json.stdout) as { done: boolean; moves: number; docsMoved: number };
    assert.equal(answer.done, true);
    assert.equal(answer.moves, 0, `the cluster was balanced, yet: ${json.stdout}`);
    assert.equal(answer.docsMoved, 0);

    const text = await runCli(['rebalance', '--dir', cluster], 120_000);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /balanced: 0 move\(s\), 0 document\(s\) moved/);
    assert.doesNotMatch(text.stdout, new RegExp(`balanced: ${moved.movesDone} move`));
  });

  it('stops with down, and down again finds nothing to stop', async () => {
    remember(await cliStatus(cluster));
    const down = await runCli(['--dir', cluster, 'down'], 90_000);
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stdout, /stopped/);
    const again = await runCli(['down', '--dir', cluster]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /nothing to stop/);
  });
});
