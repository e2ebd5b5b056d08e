/**
 * The registers a chaos workload reads and writes, as the document store holds them: one
 * document per key, its `n` the register's value. The workload sees only this interface, so a
 * test can run it against a store in memory.
 */
import { CHAOS_COLLECTION, type ChaosDocument, type CollectionClient, type DataRouter, type Versioned } from '../../data/index.ts';

/** A register as stored: its value and the document version that compare-and-set names. */
export interface StoredRegister {
  n: number;
  version: number;
}

/**
 * Every method rejects with the store's own error (a ShoalError) when it fails; `fateOfError`
 * says what that means for the history.
 */
export interface RegisterStore {
  /** undefined when the key is absent. */
  get(key: string): Promise<StoredRegister | undefined>;
  /** Creates or replaces; with `expectVersion`, only if the stored version is that (0: absent), else CONFLICT. */
  put(key: string, n: number, writer: string, expectVersion?: number): Promise<StoredRegister>;
  /** Replaces the value of an existing register at `expectVersion`: CONFLICT at another version, NOT_FOUND when absent. */
  update(key: string, n: number, writer: string, expectVersion: number): Promise<StoredRegister>;
  /** Adds `delta` (an absent register counts as 0) and answers the result. */
  increment(key: string, delta: number): Promise<StoredRegister>;
  /** The node holding the key now, as far as the store knows (for spreading keys over nodes, and for reports). */
  locate?(key: string): string | undefined;
}

function registerOf(stored: Versioned<ChaosDocument>): StoredRegister {
  return { n: stored.doc.n, version: stored.version };
}

/** The registers as documents of the built-in chaos collection; the router tells where each key lives. */
export function documentRegisters(collection: CollectionClient<ChaosDocument>, router?: DataRouter): RegisterStore {
  return {
    locate: (key) => router?.queryTargets(CHAOS_COLLECTION, { where: { key } })[0]?.node,
    get: async (key) => {
      const stored = await collection.get(key);
      return stored === undefined ? undefined : registerOf(stored);
    },
    put: async (key, n, writer, expectVersion) =>
      registerOf(await collection.put({ key, n, value: writer }, expectVersion === undefined ? {} : { expectVersion })),
    update: async (key, n, writer, expectVersion) => registerOf(await collection.update(key, { n, value: writer }, { expectVersion })),
    increment: async (key, delta) => registerOf(await collection.increment(key, { n: delta })),
  };
}
