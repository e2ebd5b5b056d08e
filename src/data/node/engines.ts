import { existsSync, mkdirSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { SqliteShardEngine } from '../sqlite/index.ts';
import type { ShardEngine } from '../types.ts';

/**
 * Where a node keeps its shard replicas: opens one's storage (async, as a driver may connect
 * first), puts a copy received from another replica in its place, and removes one the node no
 * longer holds. Tests may pass another ShardEngine driver.
 */
export interface ShardStore {
  open(shardId: number): Promise<ShardEngine>;
  /** Whether a store for the shard exists here (without creating one). */
  exists(shardId: number): Promise<boolean>;
  /** A path in the node's data directory for a copy being received. */
  scratchPath(shardId: number, name: string): string;
  /** Makes the copy at path the shard's store; the shard's engine must be closed. */
  install(shardId: number, path: string): Promise<void>;
  /** Deletes the shard's store; its engine must be closed. */
  remove(shardId: number): Promise<void>;
  /** Moves an unreadable store aside (kept for inspection) so the shard can start empty; answers where it went. */
  quarantine(shardId: number): Promise<string>;
}

/** Whether an error opening or reading a store says its file is damaged rather than busy or missing. */
export function isCorruptStore(err: unknown): boolean {
  return /not a database|malformed|corrupt|SQLITE_CORRUPT|SQLITE_NOTADB/i.test(err instanceof Error ? `${err.message} ${(err as { code?: unknown }).code ?? ''}` : String(err));
}

/** Where a node keeps a shard: DIR/data/<nodeId>/shard-<id>.db. */
function shardPath(dir: string, nodeId: string, shardId: number): string {
  return join(dir, 'data', nodeId, `shard-${shardId}.db`);
}

/** SQLite's companion files of a database in WAL mode. */
const COMPANIONS = ['-wal', '-shm'];

export function sqliteStore(dir: string, nodeId: string): ShardStore {
  return {
    async open(shardId) {
      const path = shardPath(dir, nodeId, shardId);
      mkdirSync(dirname(path), { recursive: true });
      return new SqliteShardEngine(path);
    },
    async exists(shardId) {
      return existsSync(shardPath(dir, nodeId, shardId));
    },
    scratchPath(shardId, name) {
      const path = join(dir, 'data', nodeId, 'incoming', `shard-${shardId}-${name}.db`);
      mkdirSync(dirname(path), { recursive: true });
      return path;
    },
    async install(shardId, path) {
      const target = shardPath(dir, nodeId, shardId);
      for (const suffix of COMPANIONS) await rm(target + suffix, { force: true });
      await rename(path, target);
    },
    async quarantine(shardId) {
      const target = shardPath(dir, nodeId, shardId);
      const aside = `${target}.damaged-${Date.now()}`;
      for (const suffix of ['', ...COMPANIONS]) await rename(target + suffix, aside + suffix).catch(() => undefined);
      return aside;
    },
    async remove(shardId) {
      const target = shardPath(dir, nodeId, shardId);
      for (const suffix of ['', ...COMPANIONS]) await rm(target + suffix, { force: true });
    },
  };
}
