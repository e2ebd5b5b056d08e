/**
 * The `shoal` command line: starts, inspects and stops local clusters, and calls services
 * through their gateway.
 */
import { readFileSync } from 'node:fs';
import { CliError, globalFlags, HelpRequested, UsageError, type CommandSpec } from './args.ts';
import { bench, benchSpec } from './commands/bench.ts';
import { call, callSpec } from './commands/call.ts';
import { chaos } from './commands/chaos.ts';
import { data, dataSpec } from './commands/data.ts';
import { chaosSpec } from './commands/chaos-spec.ts';
import { down, downSpec } from './commands/down.ts';
import { init, initSpec } from './commands/init.ts';
import { lbSpec, runLb } from './commands/lb.ts';
import { rebalance, rebalanceSpec } from './commands/rebalance.ts';
import { runRoleCommand } from './commands/run-role.ts';
import { scale, scaleSpec } from './commands/scale.ts';
import { status, statusSpec } from './commands/status.ts';
import { up, upSpec } from './commands/up.ts';
import { commandHelp, globalHelp, usageLine } from './help.ts';
import { closest } from './suggest.ts';

/** Every command takes its arguments after the name (global flags given before it come first). */
const commands: Record<string, (argv: string[]) => Promise<number>> = {
  init,
  up,
  down,
  status,
  call,
  scale,
  rebalance,
  chaos,
  data,
  bench,
  lb: runLb,
  _run: runRoleCommand,
};

/**
 * What `shoal --help` lists, in this order; a command missing here is listed by name after them.
 * A command declares its flags (with their help) in a CommandSpec and parses with
 * `parseWith(spec, argv)`, or passes them straight to `parseCommand(argv, flags, about?)`:
 * either way `--help`, the global flags and the did-you-mean errors come from args.ts.
 */
const specs: readonly CommandSpec[] = [initSpec, upSpec, downSpec, statusSpec, callSpec, scaleSpec, rebalanceSpec, dataSpec, chaosSpec, lbSpec, benchSpec];

/** Internal commands: run by the supervisor, never listed or suggested. */
const hidden = new Set(['_run']);

function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return typeof manifest.version === 'string' ? manifest.version : 'unknown';
}

function listing(): Array<{ name: string; summary?: string }> {
  const listed: Array<{ name: string; summary?: string }> = specs.map((s) => ({ name: s.name, summary: s.summary }));
  for (const name of Object.keys(commands)) if (!hidden.has(name) && !listed.some((c) => c.name === name)) listed.push({ name });
  return listed;
}

interface Invocation {
  /** Global flags given before the command, passed on ahead of its own arguments. */
  globals: string[];
  version: boolean;
  help: boolean;
  name: string | undefined;
  rest: string[];
}

/** Splits `shoal [global flags] COMMAND [args]`; only global flags may come before the command. */
function splitGlobals(argv: readonly string[]): Invocation {
  const found: Invocation = { globals: [], version: false, help: false, name: undefined, rest: [] };
  let i = 0;
  for (; i < argv.length && argv[i].startsWith('-'); i++) {
    const arg = argv[i];
    const [flag, inline] = arg.startsWith('--') ? [arg.slice(2).split('=')[0], arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : undefined] : [arg.slice(1), undefined];
    if (flag === 'version' || flag === 'v') found.version = true;
    else if (flag === 'help' || flag === 'h') found.help = true;
    else if ((flag === 'dir' || flag === 'port') && arg.startsWith('--')) {
      const value = inline ?? argv[++i];
      if (value === undefined || value.startsWith('-')) throw new UsageError(`--${flag} needs a value (--${flag} ${globalFlags[flag].value})`);
      found.globals.push(`--${flag}`, value);
    } else throw unknownGlobal(arg, flag);
  }
  found.name = argv[i];
  found.rest = argv.slice(i + 1);
  return found;
}

function unknownGlobal(raw: string, flag: string): UsageError {
  const owner = specs.find((s) => Object.hasOwn(s.flags, flag));
  if (owner) return new UsageError(`${raw} is an option of a command, not of shoal itself: put it after the command (shoal ${owner.name} ${raw} …)`);
  const suggestion = closest(flag, [...Object.keys(globalFlags), 'version']);
  return new UsageError(`unknown option ${raw}${suggestion ? `; did you mean --${suggestion}?` : ''} (shoal --help lists the options)`);
}

async function main(argv: readonly string[]): Promise<number> {
  const invocation = splitGlobals(argv);
  if (invocation.version) {
    process.stdout.write(`shoal ${packageVersion()}\n`);
    return 0;
  }
  let { name, rest } = invocation;
  if (name === 'help') {
    // `shoal help up` is `shoal up --help`.
    name = rest[0];
    rest = ['--help'];
    if (name === undefined) invocation.help = true;
  }
  if (name === undefined) {
    process.stdout.write(globalHelp(listing(), packageVersion()));
    return invocation.help ? 0 : 2;
  }
  const command = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!command) {
    const suggestion = closest(name, listing().map((c) => c.name));
    throw new UsageError(`unknown command "${name}"${suggestion ? `; did you mean ${suggestion}?` : ''} (shoal --help lists the commands)`);
  }
  if (name === '_run') return command(rest);
  try {
    return await command([...invocation.globals, ...(invocation.help ? ['--help'] : []), ...rest]);
  } catch (err) {
    if (err instanceof HelpRequested) {
      process.stdout.write(commandHelp(err.about, err.flags, name));
      return 0;
    }
    if (err instanceof UsageError) err.command = { ...specs.find((s) => s.name === name), ...err.command, name };
    throw err;
  }
}

try {
  const code = await main(process.argv.slice(2));
  process.exitCode = code;
  // A role keeps running on its own servers; every other command is done once it returns
  // (lb returns only once it has shut down). A role that failed to start exits with its servers.
  if (process.argv[2] !== '_run' || code !== 0) process.exit(code);
} catch (err) {
  if (err instanceof UsageError) {
    const command = err.command;
    if (command?.name) {
      process.stderr.write(`shoal ${command.name}: ${err.message}\n${usageLine(command)}\n(shoal ${command.name} --help lists its options)\n`);
    } else {
      process.stderr.write(`shoal: ${err.message}\n`);
    }
    process.exitCode = 2;
  } else if (err instanceof CliError) {
    process.stderr.write(`shoal: ${err.message}\n`);
    process.exitCode = err.exitCode;
  } else {
    process.stderr.write(`shoal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  }
  process.exit(process.exitCode);
}
