/**
 * The ShardEngine conformance suite: the rules on the contract in src/data/types.ts, checked
 * against a driver. Every driver's test file calls shardEngineConformance with a factory for a
 * fresh, empty store of named engines; the cases live in the shard-engine-*.ts files beside
 * this one, grouped by what they check.
 */
import { after, before, describe } from 'node:test';
import { documentCases } from './shard-engine-documents.ts';
import { logCases } from './shard-engine-log.ts';
import { queryCases } from './shard-engine-queries.ts';
import { randomQueryCases } from './shard-engine-random-queries.ts';
import { replicaCases } from './shard-engine-replica.ts';
import type { EngineOpener, ShardEngineDriver } from './shard-engine-support.ts';

export type { ShardEngineDriver } from './shard-engine-support.ts';

export function shardEngineConformance(name: string, makeDriver: () => Promise<ShardEngineDriver>): void {
  describe(`ShardEngine conformance: ${name}`, () => {
    let driver: ShardEngineDriver | undefined;
    let opened = 0;
    const engines: EngineOpener = {
      async fresh(label) {
        // Unique names, so no case sees another's documents even on a shared backend.
        const engineName = `${label}-${++opened}`;
        return { engine: await driver!.open(engineName), name: engineName };
      },
      reopen: (engineName) => driver!.open(engineName),
    };

    before(async () => {
      driver = await makeDriver();
    });
    after(async () => {
      await driver?.stop();
    });

    documentCases(engines);
    logCases(engines);
    queryCases(engines);
    randomQueryCases(engines);
    replicaCases(engines);
  });
}
