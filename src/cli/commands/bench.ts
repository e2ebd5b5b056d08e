import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { noMorePositionals, parseWith, UsageError, type CommandSpec } from '../args.ts';

const benchEntry = resolve(import.meta.dirname, '../../../bench/run.ts');

export const benchSpec = {
  name: 'bench',
  summary: 'run a benchmark suite against its peers and write bench/results/SUITE.json',
  usage: 'SUITE',
  positionals: [{ name: 'SUITE', help: 'rpc, gateway, data, queue, … (an unknown name lists the known ones)' }],
  globals: [],
  flags: {},
} as const satisfies CommandSpec;

export async function bench(argv: string[]): Promise<number> {
  const { positionals } = parseWith(benchSpec, argv);
  noMorePositionals(positionals, 1);
  const suite = positionals[0];
  if (suite === undefined) throw new UsageError('bench needs a SUITE, e.g. shoal bench rpc');
  const child = spawn(process.execPath, [benchEntry, suite], { stdio: 'inherit' });
  return new Promise<number>((done, fail) => {
    child.once('error', fail);
    child.once('exit', (code, signal) => done(code ?? (signal ? 128 + 1 : 1)));
  });
}
