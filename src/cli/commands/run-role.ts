import { UsageError } from '../args.ts';

/** `shoal _run ROLE …`: what the supervisor starts for each process of the cluster. */
export async function runRoleCommand(argv: string[]): Promise<number> {
  const [role, ...args] = argv;
  if (role === undefined) throw new UsageError('_run needs a ROLE (control, node or gateway)');
  // Loaded only here, so the other commands do not pay for the whole runtime.
  const { runRole } = await import('../../cluster/roles/index.ts');
  await runRole(role, args);
  return 0;
}
