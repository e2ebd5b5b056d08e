/**
 * The collection `shoal chaos test` runs its register workload on. Every data node hosts it,
 * whatever the application declares, so the test needs nothing of the application and touches
 * none of its documents.
 */
import { defineCollection } from './collection.ts';
import type { AnyCollectionDefinition } from './router/data-router.ts';

/**
 * One register: `n` is its value (a number, so that writes, compare-and-set and increments all
 * act on the same field); `value` names the write that last set it, for a person reading the
 * shard. Each run writes keys of its own.
 */
export interface ChaosDocument extends Record<string, unknown> {
  key: string;
  n: number;
  value?: string;
}

export const CHAOS_COLLECTION = 'shoal_chaos';

export const chaosCollection = defineCollection<ChaosDocument>({ name: CHAOS_COLLECTION, key: 'key', maxDocumentBytes: 1024 });

/** The collections a data node hosts: the application's, then the built-in ones it does not declare itself. */
export function withBuiltinCollections(collections: readonly AnyCollectionDefinition[]): AnyCollectionDefinition[] {
  return collections.some((c) => c.name === CHAOS_COLLECTION) ? [...collections] : [...collections, chaosCollection];
}
