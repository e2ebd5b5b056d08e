import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { SqliteShardEngine } from '../sqlite/index.ts';
import type { ShardEngine } from '../types.ts';

/** Opens the storage of one shard replica (async, as a driver may connect first); tests may pass another ShardEngine driver. */
export type ShardEngineFactory = (shardId: number) => Promise<ShardEngine>;

/** Where a node keeps a shard: DIR/data/<nodeId>/shard-<id>.db. */
function shardPath(dir: string, nodeId: string, shardId: number): string {
  return join(dir, 'data', nodeId, `shard-${shardId}.db`);
}

export function sqliteEngines(dir: string, nodeId: string): ShardEngineFactory {
  return async (shardId) => {
    const path = shardPath(dir, nodeId, shardId);
    mkdirSync(dirname(path), { recursive: true });
    return new SqliteShardEngine(path);
  };
}
