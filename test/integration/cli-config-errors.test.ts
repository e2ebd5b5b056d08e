import assert from 'node:assert/strict';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { freePortBase, removeDir, repoRoot, runCli, tempClusterDir } from '../support/cluster-harness.ts';

const core = pathToFileURL(join(repoRoot, 'src/core/index.ts')).href;

const okService = `const ok = defineService({ name: 'ok', version: 1, actions: { ping: action({ params: z.object({}), handler: () => 'pong' }) } });`;

/** A mistake in the config is one message naming the file, before any cluster process starts. */
describe('shoal up checks the config first', { timeout: 120_000 }, () => {
  let dir = '';

  before(async () => {
    dir = await tempClusterDir();
  });

  after(async () => {
    await removeDir(dir);
  });

  /** Writes a config, runs `shoal up` on it, and checks that nothing was started. */
  async function upWith(name: string, source: string, target = join(dir, name)) {
    await writeFile(join(dir, name), source);
    const cluster = join(dir, `cluster-${name}`);
    const result = await runCli(['up', target, '--dir', cluster, '--port', String(await freePortBase(1))]);
    assert.doesNotMatch(result.stdout, /starting control/, 'no process is started for a bad config');
    const made = await readdir(cluster).catch(() => []);
    assert.deepEqual(made, [], 'not even the cluster directory is made');
    return result;
  }

  it('reports a syntax error with file:line:column', async () => {
    const file = join(dir, 'syntax.ts');
    const result = await upWith(
      'syntax.ts',
      `import { defineConfig } from '${core}';\nexport default defineConfig({\n  services: [\n    { name: 'a', version: 1, actions: {} ,\n  ]\n});\n`,
    );
    assert.equal(result.code, 2, result.stderr);
    assert.ok(result.stderr.includes(`${file}:5:3: syntax error:`), result.stderr);
  });

  it('names a service without a name by its position', async () => {
    const result = await upWith(
      'noname.ts',
      `import { action, defineConfig, defineService, z } from '${core}';\n${okService}\nexport default defineConfig({ services: [ok, { version: 1, actions: {} }] });\n`,
    );
    assert.equal(result.code, 2);
    assert.ok(result.stderr.includes(`${join(dir, 'noname.ts')}: service 2: missing name`), result.stderr);
  });

  it('refuses two definitions of one service version', async () => {
    const result = await upWith(
      'dup.ts',
      `import { action, defineConfig, defineService, z } from '${core}';\n${okService}\nconst again = defineService({ name: 'ok', version: 1, actions: {} });\nexport default defineConfig({ services: [ok, again] });\n`,
    );
    assert.equal(result.code, 2);
    assert.match(result.stderr, /dup\.ts: services 1 and 2 are both ok@1/);
  });

  it('refuses an unknown balancing strategy, suggesting the one meant', async () => {
    const result = await upWith(
      'strategy.ts',
      `import { action, defineConfig, defineService, z } from '${core}';\nconst ok = defineService({ name: 'ok', version: 1, balancing: 'least-con', actions: {} });\nexport default defineConfig({ services: [ok] });\n`,
    );
    assert.equal(result.code, 2);
    assert.match(result.stderr, /strategy\.ts: service 1 \(ok@1\): unknown balancing strategy "least-con"; did you mean "least-conn"\?/);
  });

  it('places an error thrown while the config loads at its line in the user file', async () => {
    const result = await upWith(
      'badname.ts',
      `import { defineConfig, defineService } from '${core}';\n\nconst bad = defineService({ name: 'has space', version: 1, actions: {} });\nexport default defineConfig({ services: [bad] });\n`,
    );
    assert.equal(result.code, 2);
    assert.ok(result.stderr.includes(`${join(dir, 'badname.ts')}:3:`), result.stderr);
    assert.match(result.stderr, /service name "has space"/);
  });

  it('refuses a collection it cannot store', async () => {
    const result = await upWith(
      'collection.ts',
      `import { defineConfig } from '${core}';\nexport default defineConfig({ services: [], collections: [{ name: 'bad name', key: 'id' }] } as never);\n`,
    );
    assert.equal(result.code, 2);
    assert.match(result.stderr, /collection\.ts: collection 1: /);
  });

  it('refuses a collection named like the built-in one shoal chaos test uses', async () => {
    const result = await upWith(
      'reserved.ts',
      `import { defineConfig } from '${core}';\nexport default defineConfig({ services: [], collections: [{ name: 'shoal_chaos', key: 'key' }] } as never);\n`,
    );
    assert.equal(result.code, 2);
    assert.match(result.stderr, /collection 1: the name "shoal_chaos" is reserved/);
  });

  it('finds shoal.config.ts in a directory, and says when there is none', async () => {
    const project = join(dir, 'project');
    await mkdir(project);
    await writeFile(join(project, 'shoal.config.ts'), `import { defineConfig } from '${core}';\nexport default defineConfig({ services: [{ name: 'x' }] } as never);\n`);
    const result = await runCli(['up', project, '--dir', join(dir, 'cluster-project')]);
    assert.equal(result.code, 2);
    assert.ok(result.stderr.includes(`invalid config ${join(project, 'shoal.config.ts')}:`), result.stderr);
    // Every problem, one line each.
    assert.match(result.stderr, /^ +service 1 \(x\): missing version$/m);
    assert.match(result.stderr, /^ +service 1 \(x\): actions must be an object/m);

    const bare = join(dir, 'bare');
    await mkdir(bare);
    const none = await runCli(['up', bare, '--dir', join(dir, 'cluster-bare')]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /directory without a shoal\.config\.ts/);
  });
});
