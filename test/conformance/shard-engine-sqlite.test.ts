/** Runs the ShardEngine conformance suite against the SQLite driver (one database file per engine, in a temp dir). */
import { engineDir } from '../support/data-engines.ts';
import { shardEngineConformance } from './shard-engine-suite.ts';

shardEngineConformance('sqlite', async () => {
  const dir = engineDir();
  return {
    open: async (name) => dir.open(name),
    stop: () => dir.cleanup(),
  };
});
