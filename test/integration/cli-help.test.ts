import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { removeDir, repoRoot, runCli, tempClusterDir } from '../support/cluster-harness.ts';

/** Help, version and usage errors: none of these needs a running cluster. */
describe('shoal help, version and usage errors', { timeout: 120_000 }, () => {
  const commands = ['up', 'down', 'status', 'call', 'scale', 'rebalance', 'lb', 'bench'];
  let empty = '';

  before(async () => {
    empty = await tempClusterDir();
  });

  after(async () => {
    await removeDir(empty);
  });

  it('lists every command with one line each on shoal --help, exit 0', async () => {
    for (const args of [['--help'], ['-h'], ['help']]) {
      const result = await runCli(args);
      assert.equal(result.code, 0, result.stderr);
      for (const command of commands) assert.match(result.stdout, new RegExp(`^  ${command} +\\S.*$`, 'm'), `${args.join(' ')} lists ${command}`);
      assert.doesNotMatch(result.stdout, /_run/, 'the internal command is not listed');
      assert.match(result.stdout, /--dir DIR/);
      assert.match(result.stdout, /--version/);
    }
  });

  it("lists a command's own flags on shoal COMMAND --help", async () => {
    const expected: Record<string, string[]> = {
      up: ['--nodes N', '--gateways G', '--zones LIST', '--detach', 'CONFIG', '--dir DIR', '--port P'],
      down: ['--dir DIR'],
      status: ['--json'],
      call: ['--version N', 'SERVICE.ACTION'],
      scale: ['N '],
      rebalance: ['--no-wait', '--json', '--timeout S', '--control URL'],
      lb: ['--config FILE', '--listen HOST:PORT', '--upstream URL', '--algorithm NAME', '--workers N|auto', '--no-access-log'],
      bench: ['SUITE'],
    };
    for (const command of commands) {
      const result = await runCli([command, '--help']);
      assert.equal(result.code, 0, `${command} --help: ${result.stderr}`);
      assert.match(result.stdout, new RegExp(`^shoal ${command}: \\S`), `${command} --help starts with its summary`);
      assert.match(result.stdout, new RegExp(`^usage: shoal ${command}`, 'm'));
      for (const flag of expected[command]) assert.ok(result.stdout.includes(flag), `${command} --help mentions ${flag}:\n${result.stdout}`);
    }
    // The same help however it is asked for.
    const short = await runCli(['up', '-h']);
    const before = await runCli(['--help', 'up']);
    const word = await runCli(['help', 'up']);
    const long = await runCli(['up', '--help']);
    assert.equal(short.stdout, long.stdout);
    assert.equal(before.stdout, long.stdout);
    assert.equal(word.stdout, long.stdout);
    // Help wins over a mistake next to it, and starts nothing.
    const helped = await runCli(['up', '--nodez', '3', '--help']);
    assert.equal(helped.code, 0);
    assert.equal(helped.stdout, long.stdout);
  });

  it('prints the package version on --version and -v', async () => {
    const { version } = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-v']) {
      const result = await runCli([flag]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, `shoal ${version}\n`);
    }
  });

  it('suggests the flag meant for a mistyped one, with exit 2', async () => {
    const result = await runCli(['up', '--nodez', '3', '--dir', empty]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /unknown flag --nodez; did you mean --nodes\?/);
    assert.match(result.stderr, /usage: shoal up/);
    assert.doesNotMatch(result.stderr, /ERR_PARSE_ARGS|TypeError/, "not Node's own parser text");
    assert.equal(result.stdout, '');

    const status = await runCli(['status', '--jsno']);
    assert.equal(status.code, 2);
    assert.match(status.stderr, /did you mean --json\?/);

    const before = await runCli(['--dri', empty, 'status']);
    assert.equal(before.code, 2);
    assert.match(before.stderr, /did you mean --dir\?/);

    const misplaced = await runCli(['--nodes', '3', 'up']);
    assert.equal(misplaced.code, 2);
    assert.match(misplaced.stderr, /put it after the command \(shoal up --nodes/);

    const noValue = await runCli(['up', '--nodes']);
    assert.equal(noValue.code, 2);
    assert.match(noValue.stderr, /--nodes needs a value/);

    const lb = await runCli(['lb', '--upstrem', 'http://127.0.0.1:1']);
    assert.equal(lb.code, 2);
    assert.match(lb.stderr, /did you mean --upstream\?/);
  });

  it('suggests the command meant for a mistyped one, with exit 2', async () => {
    const result = await runCli(['stauts']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /unknown command "stauts"; did you mean status\?/);
    const far = await runCli(['frobnicate']);
    assert.equal(far.code, 2);
    assert.match(far.stderr, /unknown command "frobnicate"/);
    assert.doesNotMatch(far.stderr, /did you mean/);
  });

  it('takes the global flags before or after the command', async () => {
    const dir = join(empty, 'nothing-here');
    for (const args of [['--dir', dir, 'status'], ['status', '--dir', dir], [`--dir=${dir}`, 'status']]) {
      const result = await runCli(args);
      assert.equal(result.code, 1, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, new RegExp(`no cluster is running in ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`), args.join(' '));
    }
    // --port reaches the command from either side: an out-of-range one is refused by it.
    for (const args of [['--port', '70000', 'status', '--dir', dir], ['status', '--dir', dir, '--port', '70000']]) {
      const result = await runCli(args);
      assert.equal(result.code, 2, args.join(' '));
      assert.match(result.stderr, /--port must be from 1 to/);
    }
  });

  it('says so and exits 0 when down finds nothing running', async () => {
    for (const args of [['down', '--dir', empty], ['--dir', empty, 'down']]) {
      const result = await runCli(args);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /no cluster is running in .*: nothing to stop/);
    }
  });
});
