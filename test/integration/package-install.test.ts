/**
 * Shoal as a user gets it: `npm pack` of this repository installed into a fresh project next
 * to that project's own typescript and @types/node, `shoal init` there, the project's own tsc
 * checking it against the package's .d.ts files, `shoal up` running it from the built
 * JavaScript, a call through the gateway, the starter's own test, and `shoal down`.
 *
 * npm needs its registry for typescript and @types/node; where it cannot be reached, the test
 * says so and skips.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePortBase, repoRoot, runCommand, type CliResult } from '../support/cluster-harness.ts';

// The project's commands run on this Node (22.18+), found first on PATH as a user's would be:
// the machine's own node may be older than the package's engines.
// NODE_TEST_CONTEXT would make the project's own `node --test` report to this runner instead of printing.
const { NODE_TEST_CONTEXT: _, ...inherited } = process.env;
const env = { ...inherited, PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`, npm_config_update_notifier: 'false' };
const npmFlags = ['--no-audit', '--no-fund', '--prefer-offline'];

function run(command: string, args: string[], cwd: string, timeoutMs = 120_000): Promise<CliResult> {
  return runCommand(command, args, { cwd, env, timeoutMs });
}

const output = (r: CliResult) => `exit ${r.code}\n--- stdout\n${r.stdout.slice(-4000)}\n--- stderr\n${r.stderr.slice(-4000)}`;

const ping = await run('npm', ['ping'], repoRoot, 20_000).catch((err: Error) => ({ code: -1, stdout: '', stderr: err.message }));
const pingError = ping.stderr.split('\n').find((line) => /error/i.test(line)) ?? (ping.code === null ? 'no answer within 20 s' : `exit ${ping.code}`);
const skip = ping.code === 0 ? false : `the npm registry is unreachable (npm ping: ${pingError.trim()}); this test installs typescript and @types/node from it`;

describe('shoal as an installed package', { skip, timeout: 600_000 }, () => {
  let work = '';
  let project = '';
  let port = 0;
  let started = false;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'shoal-package-'));
    project = join(work, 'app');
    port = await freePortBase(3);
  });

  after(async () => {
    if (started) await run('npx', ['shoal', 'down', '--port', String(port)], project, 150_000);
    await rm(work, { recursive: true, force: true });
  });

  it('packs into a tarball of the built package', async () => {
    const packed = await run('npm', ['pack', '--pack-destination', work], repoRoot, 180_000);
    assert.equal(packed.code, 0, output(packed));
    const tarballs = (await readdir(work)).filter((name) => name.endsWith('.tgz'));
    assert.equal(tarballs.length, 1, output(packed));
    // The files list: the build, the bin and the README; no sources, tests or benchmarks.
    assert.match(packed.stderr, /dist\/index\.d\.ts/);
    assert.match(packed.stderr, /dist\/cli\/main\.js/);
    assert.match(packed.stderr, /bin\/shoal\.js/);
    assert.doesNotMatch(packed.stderr, /notice [\d.]+k?B +(src|test|bench|examples)\//);

    await mkdir(project);
    const initialized = await run('npm', ['init', '-y'], project);
    assert.equal(initialized.code, 0, output(initialized));
    const installed = await run('npm', ['install', ...npmFlags, join(work, tarballs[0]), 'typescript@5.9', '@types/node'], project, 480_000);
    assert.equal(installed.code, 0, output(installed));
    assert.ok(existsSync(join(project, 'node_modules/shoal/dist/index.js')));
  });

  it('writes a starter project with shoal init', async () => {
    // Before init there is no config to run, and no bundled example in an installed package.
    const noConfig = await run('npx', ['shoal', 'up', '--port', String(port)], project);
    assert.equal(noConfig.code, 1, output(noConfig));
    assert.match(noConfig.stderr, /no shoal\.config\.ts in .*npx shoal init/);

    const result = await run('npx', ['shoal', 'init'], project);
    assert.equal(result.code, 0, output(result));
    for (const path of ['shoal.config.ts', 'services/tasks.ts', 'test/tasks.test.ts', 'tsconfig.json']) assert.ok(existsSync(join(project, path)), path);
  });

  it("type-checks the project with the project's own tsc", async () => {
    const checked = await run('npx', ['tsc', '--noEmit'], project);
    assert.equal(checked.code, 0, output(checked));

    // The types are real: a wrong param type for a typed action fails the check.
    const wrong = join(project, 'services/wrong.ts');
    await writeFile(
      wrong,
      `import { defineService, action, z } from 'shoal';\nimport { tasksService } from './tasks.ts';\n` +
        `export const caller = defineService({ name: 'caller', version: 1, actions: {\n` +
        `  go: action({ params: z.object({}), handler: (ctx) => ctx.call(tasksService, 'add', { title: 42 }) }),\n} });\n`,
    );
    const failed = await run('npx', ['tsc', '--noEmit'], project);
    await rm(wrong);
    assert.notEqual(failed.code, 0, 'tsc accepted a number for a string param');
    assert.match(failed.stdout, /services\/wrong\.ts.*TS2322/);
  });

  it('runs the project with shoal up and answers through the gateway', async () => {
    started = true;
    const up = await run('npx', ['shoal', 'up', '--detach', '--port', String(port)], project, 200_000);
    assert.equal(up.code, 0, output(up));
    assert.match(up.stdout, /cluster ready/);
    const supervisorLog = await readFile(join(project, '.shoal/logs/supervisor.log'), 'utf8');
    assert.ok(supervisorLog.includes(`config: ${join(project, 'shoal.config.ts')}`), supervisorLog);

    // Every process runs the built JavaScript of the installed package (where /proc shows it).
    const status = await run('npx', ['shoal', 'status', '--json', '--port', String(port)], project);
    assert.equal(status.code, 0, output(status));
    const { processes } = JSON.parse(status.stdout) as { processes: Array<{ id: string; pid: number | null }> };
    for (const { id, pid } of processes) {
      const cmdline = pid === null ? undefined : await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => undefined);
      if (cmdline !== undefined) assert.ok(cmdline.includes(join(project, 'node_modules/shoal/dist/cli/main.js')), `${id}: ${cmdline.replaceAll('\0', ' ')}`);
    }

    const gateway = `http://127.0.0.1:${port}`;
    const added = await fetch(`${gateway}/api/v1/tasks/add`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ title: 'from the package test' }) });
    const task = (await added.json()) as { id: string; title: string; done: boolean };
    assert.equal(added.status, 200, JSON.stringify(task));
    assert.equal(task.title, 'from the package test');
    assert.match(added.headers.get('x-shoal-node') ?? '', /^node-\d+$/);

    const got = await fetch(`${gateway}/api/v1/tasks/get`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: task.id }) });
    assert.deepEqual(await got.json(), task);
    const missing = await fetch(`${gateway}/api/v1/tasks/get`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: 'nope' }) });
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { error: { code: string } }).error.code, 'NOT_FOUND');
  });

  it('stops with shoal down', async () => {
    const down = await run('npx', ['shoal', 'down', '--port', String(port)], project, 150_000);
    assert.equal(down.code, 0, output(down));
    started = false;
    const status = await run('npx', ['shoal', 'status', '--port', String(port)], project);
    assert.notEqual(status.code, 0, 'a stopped cluster reports itself as not running');
  });

  it("passes the starter's own test (npm test: a test cluster from shoal/testing)", async () => {
    const tested = await run('npm', ['test'], project, 240_000);
    assert.equal(tested.code, 0, output(tested));
    assert.match(tested.stdout, /pass 4/);
  });
});
