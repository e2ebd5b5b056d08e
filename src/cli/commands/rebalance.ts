import { readFile } from 'node:fs/promises';
import { clusterDir, isPidAlive, readState } from '../../cluster/index.ts';
import { runRebalance } from '../../data/index.ts';
import { CliError } from '../args.ts';

/** `shoal rebalance [--dir DIR]`: spreads data slots evenly over the nodes, with a progress bar. */
export function rebalance(argv: string[]): Promise<number> {
  return runRebalance(argv, async (dir) => {
    const layout = clusterDir(dir);
    const state = await readState(layout.stateFile);
    if (!state || !isPidAlive(state.pid)) throw new CliError(`no cluster is running in ${layout.root} (start one with: shoal up --dir ${dir})`);
    return { controlUrl: state.controlUrl, secret: (await readFile(layout.secret, 'utf8')).trim() };
  });
}
