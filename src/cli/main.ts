/**
 * The `shoal` command line: starts, inspects and stops local clusters, and calls services
 * through their gateway.
 */
import { CliError, UsageError } from './args.ts';
import { bench } from './commands/bench.ts';
import { call } from './commands/call.ts';
import { down } from './commands/down.ts';
import { init, initUsage } from './commands/init.ts';
import { lbUsage, runLb } from './commands/lb.ts';
import { rebalance } from './commands/rebalance.ts';
import { runRoleCommand } from './commands/run-role.ts';
import { scale } from './commands/scale.ts';
import { status } from './commands/status.ts';
import { up } from './commands/up.ts';
import { usage } from './usage.ts';

const commands: Record<string, (argv: string[]) => Promise<number>> = {
  init,
  up,
  down,
  status,
  call,
  scale,
  rebalance,
  bench,
  lb: runLb,
  _run: runRoleCommand,
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(usage);
    return name === undefined ? 2 : 0;
  }
  const command = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!command) throw new UsageError(`unknown command "${name}"`);
  if (name !== '_run' && name !== 'bench' && (rest.includes('--help') || rest.includes('-h'))) {
    process.stdout.write(name === 'lb' ? lbUsage : name === 'init' ? initUsage : usage);
    return 0;
  }
  return command(rest);
}

try {
  const code = await main(process.argv.slice(2));
  process.exitCode = code;
  // A role keeps running on its own servers; every other command is done once it returns
  // (lb returns only once it has shut down).
  if (process.argv[2] !== '_run') process.exit(code);
} catch (err) {
  if (err instanceof UsageError) {
    process.stderr.write(`shoal: ${err.message}\n\n${usage}`);
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
