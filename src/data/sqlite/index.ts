/** The SQLite ShardEngine driver. */
export { SqliteShardEngine, type SqliteShardEngineOptions } from './shard-engine.ts';
