/** Shard engines on temporary files, removed when the test ends. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteShardEngine } from '../../src/data/sqlite/index.ts';

export interface EngineDir {
  dir: string;
  path(name: string): string;
  open(name: string): SqliteShardEngine;
  cleanup(): Promise<void>;
}

export function engineDir(): EngineDir {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-data-'));
  const opened: SqliteShardEngine[] = [];
  return {
    dir,
    path: (name) => join(dir, `${name}.db`),
    open(name) {
      const engine = new SqliteShardEngine(join(dir, `${name}.db`));
      opened.push(engine);
      return engine;
    },
    async cleanup() {
      await Promise.all(opened.map((engine) => engine.close()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
