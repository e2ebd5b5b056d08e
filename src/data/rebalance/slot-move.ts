import { setTimeout as sleep } from 'node:timers/promises';
import type { Coordinator } from '../../control/index.ts';
import { ShoalError, toShoalError, type Logger } from '../../core/index.ts';
import { moveKey } from '../map/keys.ts';
import type { ShardMap } from '../map/shard-map.ts';
import type { ChangeRecord, StoredDocument } from '../types.ts';
import type { MovePhase, MoveRecord } from './move-record.ts';
import type { PlannedMove } from './plan.ts';

export interface MoveContext {
  coordinator: Coordinator;
  /** Calls an action of `$data` on the shard's current leader, following it through elections. */
  callShard: (shard: number, action: string, params: Record<string, unknown>, timeoutMs: number) => Promise<unknown>;
  logger: Logger;
  token: number;
  signal: AbortSignal;
  /** The newest map (refreshed). */
  map: () => Promise<ShardMap>;
  /** Moves the slots to the destination shard in the map (CAS, fenced by the leader token); resolves with the new version. */
  switchSlots: (move: MoveRecord) => Promise<number>;
  onProgress: (record: MoveRecord) => void;
  pageSize: number;
  pagePauseMs: number;
}

const CALL_TIMEOUT_MS = 30_000;
const CATCH_UP_BATCH = 500;
/** Catch-up rounds before fencing: each round replays what the previous one let accumulate. */
const CATCH_UP_ROUNDS = 5;

/**
 * Moves a contiguous range of slots from one shard to another while both keep serving:
 * copy in pages, replay the source's change log since the copy began, fence writes at the
 * source, replay the rest, switch the map, lift the fence (the source now redirects), drop the
 * source's copy. Each phase is recorded first, so a crash anywhere is resumed or rolled back by
 * whoever leads next (see resolveMove).
 */
export async function runMove(ctx: MoveContext, planned: PlannedMove): Promise<void> {
  const map = await ctx.map();
  const fromNode = map.leaderOf(planned.fromShard);
  const toNode = map.leaderOf(planned.toShard);
  if (!fromNode || !toNode) throw new ShoalError('CONFLICT', 'move planned against an older map');
  const key = moveKey(planned.placement, planned.first);
  // Each call names its shard (in `params.shard`): it goes to that shard's leader, wherever it is now.
  const call = (_shardLeader: string, action: string, params: Record<string, unknown>) => {
    if (ctx.signal.aborted) throw new ShoalError('CONFLICT', 'no longer the rebalancer leader');
    return ctx.callShard(params.shard as number, action, { mapVersion: map.version, ...params }, CALL_TIMEOUT_MS);
  };
  const range = { first: planned.first, last: planned.last };

  // Leftovers of an earlier, rolled-back attempt must not mix with this copy.
  await call(toNode, 'dropSlots', { shard: planned.toShard, ...range });
  const { lastSeq } = (await call(fromNode, 'moveBegin', { shard: planned.fromShard })) as { lastSeq: number };
  const record: MoveRecord = { ...planned, fromNode, toNode, phase: 'copying', startSeq: lastSeq, token: ctx.token, docs: 0, bytes: 0, startedAt: Date.now() };
  let recordVersion = (await ctx.coordinator.put(key, record, { expectVersion: 0 })).version;
  const setPhase = async (phase: MovePhase, extra: Partial<MoveRecord> = {}) => {
    Object.assign(record, extra, { phase });
    recordVersion = (await ctx.coordinator.put(key, record, { expectVersion: recordVersion })).version;
    ctx.onProgress(record);
  };
  ctx.onProgress(record);

  try {
    for (let slot = planned.first; slot <= planned.last; slot++) {
      let afterRowId: number | undefined;
      for (;;) {
        const page = (await call(fromNode, 'moveExport', { shard: planned.fromShard, slot, limit: ctx.pageSize, ...(afterRowId === undefined ? {} : { afterRowId }) })) as {
          documents: Array<StoredDocument & { collection: string }>;
          lastRowId: number;
          done: boolean;
        };
        if (page.documents.length > 0) {
          await call(toNode, 'moveImport', { shard: planned.toShard, slot, documents: page.documents });
          record.docs += page.documents.length;
          record.bytes += page.documents.reduce((n, d) => n + Buffer.byteLength(JSON.stringify(d.doc)), 0);
          ctx.onProgress(record);
          // Throttle: foreground requests on both nodes get the event loop between pages.
          if (ctx.pagePauseMs > 0) await sleep(ctx.pagePauseMs);
        }
        afterRowId = page.lastRowId;
        if (page.done || page.documents.length === 0) break;
      }
    }

    await setPhase('catching-up', { docs: record.docs, bytes: record.bytes });
    let seq = record.startSeq;
    for (let round = 0; round < CATCH_UP_ROUNDS; round++) {
      const replayed = await replay(call, planned, fromNode, toNode, seq);
      seq = replayed.seq;
      if (replayed.count < CATCH_UP_BATCH) break;
    }

    await setPhase('fenced');
    // Fenced: nothing new reaches the source's log for these slots (the fence answers only once
    // the writes it let through before are committed). The fence is set again before each replay,
    // so a leader elected meanwhile is fenced too before the replay that finds nothing is final.
    for (;;) {
      await call(fromNode, 'fence', { shard: planned.fromShard, move: key, ...range });
      const replayed = await replay(call, planned, fromNode, toNode, seq);
      seq = replayed.seq;
      if (replayed.count === 0) break;
    }
    if (ctx.signal.aborted) throw new ShoalError('CONFLICT', 'no longer the rebalancer leader');
    const version = await ctx.switchSlots(record);
    await setPhase('switched', { switchedAt: version });
  } catch (err) {
    ctx.logger.warn({ move: key, phase: record.phase, err: toShoalError(err).message }, 'slot move failed; rolling back');
    await resolveMove(ctx, key, record, recordVersion);
    throw err;
  }
  await resolveMove(ctx, key, record, recordVersion);
}

async function replay(
  call: (node: string, action: string, params: Record<string, unknown>) => Promise<unknown>,
  planned: PlannedMove,
  fromNode: string,
  toNode: string,
  since: number,
): Promise<{ seq: number; count: number }> {
  let seq = since;
  let count = 0;
  for (;;) {
    const { changes } = (await call(fromNode, 'moveChanges', { shard: planned.fromShard, since: seq, first: planned.first, last: planned.last, limit: CATCH_UP_BATCH })) as {
      changes: ChangeRecord[];
    };
    if (changes.length === 0) return { seq, count };
    await call(toNode, 'moveApply', { shard: planned.toShard, first: planned.first, last: planned.last, changes });
    seq = changes[changes.length - 1].seq;
    count += changes.length;
    if (changes.length < CATCH_UP_BATCH) return { seq, count };
  }
}

/**
 * Ends a recorded move whatever state it was left in. If the map gives the slots to the
 * destination, the switch happened: lift the fence and drop the source's copy. Otherwise the
 * source still owns them: lift the fence and drop the destination's partial copy. Rejects
 * (leaving the record for the next attempt) while a node it needs cannot be reached.
 */
export async function resolveMove(ctx: MoveContext, key: string, record: MoveRecord, recordVersion?: number): Promise<void> {
  const map = await ctx.map();
  const placement = map.shard(record.toShard)?.placement ?? map.shard(record.fromShard)?.placement ?? record.placement;
  const switched = map.shardOf(placement, record.first) === record.toShard;
  const call = (_shardLeader: string, action: string, params: Record<string, unknown>) => ctx.callShard(params.shard as number, action, { mapVersion: map.version, ...params }, CALL_TIMEOUT_MS);
  const range = { first: record.first, last: record.last };
  let version = recordVersion ?? (await ctx.coordinator.get(key))?.version;
  if (!switched && record.phase !== 'rolling-back') {
    record.phase = 'rolling-back';
    version = (await ctx.coordinator.put(key, record, version === undefined ? {} : { expectVersion: version })).version;
  }
  // A shard lives while the map lists it, whichever of its replicas leads.
  const sourceAlive = map.shard(record.fromShard) !== undefined;
  const destAlive = map.shard(record.toShard) !== undefined;
  if (sourceAlive) {
    await call(record.fromNode, 'unfence', { shard: record.fromShard, move: key }).catch((err: unknown) => {
      // The fence also ends when the record goes; the source then redirects or serves again.
      ctx.logger.debug({ move: key, err: toShoalError(err).message }, 'unfence call failed');
    });
  }
  if (switched && sourceAlive) await call(record.fromNode, 'dropSlots', { shard: record.fromShard, ...range });
  if (!switched && destAlive) await call(record.toNode, 'dropSlots', { shard: record.toShard, ...range });
  await ctx.coordinator.delete(key, version === undefined ? {} : { expectVersion: version }).catch((err: unknown) => {
    if (toShoalError(err).code !== 'CONFLICT') throw err;
  });
  ctx.logger.info({ move: key, outcome: switched ? 'switched' : 'rolled back', docs: record.docs }, 'slot move finished');
}
