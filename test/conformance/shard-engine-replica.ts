/** ShardEngine conformance: the replica methods (log, hard state, applied index, copies). */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { LogEntry } from '../../src/consensus/index.ts';
import { collectionSpec, defineCollection } from '../../src/data/collection.ts';
import { SqliteShardEngine } from '../../src/data/sqlite/index.ts';
import { slotOf } from '../../src/data/slots.ts';
import type { ShardCommand, ShardEngine } from '../../src/data/types.ts';
import { rejects, type EngineOpener } from './shard-engine-support.ts';

const counters = defineCollection({ name: 'counters', key: 'name' });
const ref = (name: string) => ({ key: name, id: name });
const command = (index: number, term: number, cmd: ShardCommand): LogEntry => ({ index, term, type: 'command', command: cmd });
const increment = (name: string, by: number): ShardCommand => ({ kind: 'writes', writes: [{ op: 'increment', collection: 'counters', ref: ref(name), slot: slotOf(name), deltas: { n: by } }] });
const hard = (term: number, commit: number) => ({ term, votedFor: 'node-1', commit });

export function replicaCases(engines: EngineOpener): void {
  describe('replica steps', () => {
    let engine: ShardEngine;
    let name: string;

    before(async () => {
      ({ engine, name } = await engines.fresh('replica'));
      await engine.ensureCollection(collectionSpec(counters));
    });

    it('has no replica state before its first step', async () => {
      assert.equal(await engine.loadReplica(), undefined);
    });

    it('stores entries and hard state, applies committed commands once, and survives a reopen', async () => {
      const entries = [command(1, 1, increment('a', 1)), command(2, 1, increment('a', 2)), { index: 3, term: 1, type: 'noop' } as LogEntry];
      const none = await engine.replicaStep({ hardState: hard(1, 0), entries, committed: [] });
      assert.deepEqual(none, []);
      assert.equal(await engine.get('counters', ref('a')), undefined, 'an entry not yet committed changes no document');
      const results = await engine.replicaStep({ hardState: hard(1, 2), entries: [], committed: entries.slice(0, 2) });
      assert.deepEqual(results.map((r) => r.kind), ['writes', 'writes']);
      assert.equal((await engine.get('counters', ref('a')))?.doc.n, 3);
      await engine.close();
      engine = await engines.reopen(name);
      const state = await engine.loadReplica();
      assert.deepEqual(state?.hardState, hard(1, 2));
      assert.equal(state?.applied, 2);
      assert.deepEqual(state?.entries.map((e) => e.index), [1, 2, 3]);
      await rejects(() => engine.replicaStep({ entries: [], committed: [entries[1]] }), 'BAD_REQUEST', /already applied/);
      assert.equal((await engine.get('counters', ref('a')))?.doc.n, 3, 'an entry applied twice would have counted twice');
    });

    it('replaces stored entries from the first new index (a new leader overwrote them)', async () => {
      await engine.replicaStep({ hardState: hard(2, 2), entries: [command(3, 2, increment('b', 5))], committed: [] });
      const state = await engine.loadReplica();
      assert.deepEqual(state?.entries.map((e) => [e.index, e.term]), [[1, 1], [2, 1], [3, 2]]);
    });

    it('answers a refused command as refused, leaving no trace, and moves the applied index past it', async () => {
      const bad = command(4, 2, { kind: 'import', slot: -1, documents: [] });
      await engine.replicaStep({ entries: [bad], committed: [] });
      const results = await engine.replicaStep({ entries: [], committed: [(await engine.loadReplica())!.entries[2], bad] });
      assert.deepEqual(results.map((r) => r.kind), ['writes', 'refused']);
      assert.equal((await engine.loadReplica())?.applied, 4);
      assert.equal((await engine.get('counters', ref('b')))?.doc.n, 5);
    });

    it('compacts the log through an applied index, keeping where it stands', async () => {
      const meta = await engine.compactReplicaLog(3);
      assert.deepEqual([meta.index, meta.term], [3, 2]);
      const state = await engine.loadReplica();
      assert.deepEqual(state?.entries.map((e) => e.index), [4]);
      assert.deepEqual(state?.snapshot.index, 3);
      await rejects(() => engine.compactReplicaLog(9), 'BAD_REQUEST', /applied/);
    });

    it('copies the whole store, which a reset turns into a replica at the copied applied index', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'shoal-copy-'));
      after(() => rmSync(dir, { recursive: true, force: true }));
      const path = join(dir, 'copy.db');
      const meta = await engine.copyTo(path);
      assert.equal(meta.index, 4);
      const copy = new SqliteShardEngine(path);
      try {
        const state = await copy.resetReplica({ term: 7, votedFor: null, commit: 0 });
        assert.equal(state.applied, 4);
        assert.deepEqual(state.entries, []);
        assert.equal(state.hardState.term, 7);
        assert.equal((await copy.get('counters', ref('a')))?.doc.n, 3);
        assert.equal((await copy.lastSeq()), await engine.lastSeq(), 'the copy carries the change log as well');
      } finally {
        await copy.close();
      }
    });
  });
}
