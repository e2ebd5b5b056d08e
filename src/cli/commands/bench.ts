import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { noMorePositionals, parseCommand, UsageError } from '../args.ts';

const benchEntry = resolve(import.meta.dirname, '../../../bench/run.ts');

export async function bench(argv: string[]): Promise<number> {
  // Flags belong to the suite runner; only the suite name is required here.
  const suite = argv[0];
  if (suite === undefined || suite.startsWith('-')) {
    const { positionals } = parseCommand(argv, {});
    noMorePositionals(positionals, 1);
    throw new UsageError('bench needs a SUITE, e.g. shoal bench rpc');
  }
  const child = spawn(process.execPath, [benchEntry, ...argv], { stdio: 'inherit' });
  return new Promise<number>((done, fail) => {
    child.once('error', fail);
    child.once('exit', (code, signal) => done(code ?? (signal ? 128 + 1 : 1)));
  });
}
