import { UsageError } from '../args.ts';

/**
 * The last line a role process writes to its log when it cannot start: the supervisor looks for
 * it in the log's tail (src/cluster/supervisor.ts), so `shoal up` can say why in one line.
 */
const START_FAILED_PREFIX = 'start failed: ';

/** `shoal _run ROLE …`: what the supervisor starts for each process of the cluster. */
export async function runRoleCommand(argv: string[]): Promise<number> {
  const [role, ...args] = argv;
  if (role === undefined) throw new UsageError('_run needs a ROLE (control, node or gateway)');
  // Loaded only here, so the other commands do not pay for the whole runtime.
  const { runRole } = await import('../../cluster/roles/index.ts');
  try {
    await runRole(role, args);
  } catch (err) {
    // The stack for whoever reads the log, then the reason on the line the supervisor quotes.
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`${err instanceof Error ? (err.stack ?? message) : message}\n${START_FAILED_PREFIX}${message.split('\n')[0]}\n`);
    return 1;
  }
  return 0;
}
