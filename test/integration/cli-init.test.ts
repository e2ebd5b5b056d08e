/**
 * `shoal init` as a user runs it: the starter's files, package.json created or merged, and
 * nothing written when a file it would write exists. That the written project type-checks
 * and runs against the installed package is checked in package-install.test.ts.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cliEntry, runCli, type CliResult } from '../support/cluster-harness.ts';

/** `shoal ARGS` run in `cwd`, as a user in that directory would. */
function runCliIn(cwd: string, args: string[]): Promise<CliResult> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [cliEntry, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', fail);
    child.once('close', (code) => done({ code, stdout, stderr }));
  });
}

const starter = ['shoal.config.ts', 'services/tasks.ts', 'test/tasks.test.ts', 'tsconfig.json'];

interface PackageJson {
  type?: string;
  scripts: Record<string, string>;
  devDependencies: Record<string, string>;
  dependencies?: Record<string, string>;
}

async function packageJsonOf(dir: string): Promise<PackageJson> {
  return JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as PackageJson;
}

describe('shoal init', { timeout: 60_000 }, () => {
  let root = '';
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'shoal-init-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('writes a starter project and a package.json into an empty directory', async () => {
    const dir = join(root, 'fresh');
    const result = await runCli(['init', dir]);
    assert.equal(result.code, 0, result.stderr);
    for (const path of [...starter, 'package.json', '.gitignore']) assert.ok(existsSync(join(dir, path)), `${path} was not written`);
    assert.match(result.stdout, /npx shoal up/);

    const pkg = await packageJsonOf(dir);
    assert.equal(pkg.type, 'module');
    assert.deepEqual(pkg.scripts, { start: 'shoal up', test: 'node --test "test/**/*.test.ts"', typecheck: 'tsc --noEmit' });
    assert.ok(pkg.devDependencies.typescript && pkg.devDependencies['@types/node']);

    const config = await readFile(join(dir, 'shoal.config.ts'), 'utf8');
    assert.match(config, /from 'shoal'/);
    const service = await readFile(join(dir, 'services/tasks.ts'), 'utf8');
    assert.match(service, /defineService\(/);
    assert.match(service, /defineCollection</);
    assert.match(service, /events: \{/);
    // tsconfig.json may hold comments (tsc reads JSONC), so its settings are matched as text.
    const tsconfig = await readFile(join(dir, 'tsconfig.json'), 'utf8');
    for (const setting of ['"strict": true', '"module": "nodenext"', '"noEmit": true', '"allowImportingTsExtensions": true']) assert.ok(tsconfig.includes(setting), setting);
    assert.match(await readFile(join(dir, '.gitignore'), 'utf8'), /^\.shoal\/$/m);
  });

  it('merges into an existing package.json, keeping what is there', async () => {
    const dir = join(root, 'existing');
    await mkdir(dir);
    // What `npm init -y` writes, plus a start script of the user's own and a dependency.
    const original = {
      name: 'existing',
      version: '1.0.0',
      main: 'index.js',
      type: 'commonjs',
      scripts: { test: 'echo "Error: no test specified" && exit 1', start: 'node server.js' },
      dependencies: { shoal: 'file:../shoal-0.1.0.tgz', typescript: '5.9' },
    };
    await writeFile(join(dir, 'package.json'), JSON.stringify(original, null, 2));
    await writeFile(join(dir, '.gitignore'), 'node_modules');

    const result = await runCliIn(dir, ['init']);
    assert.equal(result.code, 0, result.stderr);
    const pkg = await packageJsonOf(dir);
    assert.equal(pkg.type, 'module');
    assert.equal(pkg.scripts.start, 'node server.js', 'a script of the user is kept');
    assert.equal(pkg.scripts.test, 'node --test "test/**/*.test.ts"', "npm's placeholder test is replaced");
    assert.equal(pkg.scripts.typecheck, 'tsc --noEmit');
    assert.deepEqual(pkg.dependencies, original.dependencies);
    assert.equal(pkg.devDependencies.typescript, undefined, 'no second typescript next to the one in dependencies');
    assert.ok(pkg.devDependencies['@types/node']);
    assert.match(result.stdout, /kept your scripts\.start/);
    assert.match(result.stdout, /"type" to "module" \(was "commonjs"\)/);
    assert.doesNotMatch(result.stdout, /npm install <path or tarball of shoal>/, 'shoal is already a dependency');
    assert.equal(await readFile(join(dir, '.gitignore'), 'utf8'), 'node_modules\n.shoal/\n');
  });

  it('refuses to write over existing files, names them, and writes nothing', async () => {
    const dir = join(root, 'taken');
    await mkdir(join(dir, 'services'), { recursive: true });
    await writeFile(join(dir, 'shoal.config.ts'), '// mine\n');
    await writeFile(join(dir, 'services/tasks.ts'), '// mine too\n');
    const before = (await readdir(dir, { recursive: true })).sort();

    const result = await runCliIn(dir, ['init']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /shoal\.config\.ts/);
    assert.match(result.stderr, /services\/tasks\.ts/);
    assert.doesNotMatch(result.stderr, /tsconfig\.json/, 'only the files that exist are named');
    assert.deepEqual((await readdir(dir, { recursive: true })).sort(), before, 'nothing was written');
    assert.equal(await readFile(join(dir, 'shoal.config.ts'), 'utf8'), '// mine\n');
  });

  it('refuses a package.json that is not JSON, writing nothing', async () => {
    const dir = join(root, 'broken');
    await mkdir(dir);
    await writeFile(join(dir, 'package.json'), '{ "name": ');
    const result = await runCliIn(dir, ['init']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /package\.json is not valid JSON/);
    assert.deepEqual(await readdir(dir), ['package.json']);
  });

  it('takes at most one directory, and shows its help', async () => {
    const extra = await runCli(['init', join(root, 'a'), join(root, 'b')]);
    assert.equal(extra.code, 2);
    assert.match(extra.stderr, /unexpected argument/);
    assert.ok(!existsSync(join(root, 'a')));
    const help = await runCli(['init', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^shoal init: write a starter project/);
    assert.match(help.stdout, /^usage: shoal init \[DIR\]/m);
  });
});
