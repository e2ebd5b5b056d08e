/** What the ShardEngine conformance cases share: how they open engines and how they check errors. */
import assert from 'node:assert/strict';
import { ShoalError } from '../../src/core/errors.ts';
import { documentRefOf } from '../../src/data/collection.ts';
import { slotOf } from '../../src/data/slots.ts';
import type { CollectionDefinition, JsonDocument, ShardEngine, StoredDocument, WriteOptions } from '../../src/data/types.ts';

/** A driver under test: engines stored under names, kept until stop(). */
export interface ShardEngineDriver {
  /**
   * Opens the engine stored under name, empty the first time. Opened again after close(), it
   * must hold everything a resolved write stored: the durability cases rely on it.
   */
  open(name: string): Promise<ShardEngine>;
  /** Closes whatever is still open and removes every engine's data. */
  stop(): Promise<void>;
}

export interface EngineOpener {
  /** A new, empty engine under a name no other case uses. */
  fresh(label: string): Promise<{ engine: ShardEngine; name: string }>;
  /** The engine stored under name, opened again (close the previous one first). */
  reopen(name: string): Promise<ShardEngine>;
}

/** The call must reject (never throw synchronously) with a ShoalError of this code. */
export async function rejects(work: () => Promise<unknown>, code: string, pattern?: RegExp): Promise<void> {
  await assert.rejects(work, (err: unknown) => {
    assert.ok(err instanceof ShoalError, `expected a ShoalError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (pattern) assert.match(err.message, pattern);
    return true;
  });
}

/** Puts a document under the ref and slot its collection gives it. */
export function putDoc(engine: ShardEngine, def: CollectionDefinition, doc: JsonDocument, options?: WriteOptions): Promise<StoredDocument> {
  const ref = documentRefOf(def, doc);
  return engine.put(def.name, ref, slotOf(ref.key), doc, options);
}
