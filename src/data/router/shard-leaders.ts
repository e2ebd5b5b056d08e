import { setTimeout as sleep } from 'node:timers/promises';
import { ShoalError, toShoalError } from '../../core/index.ts';
import { preferredLeaderOf, type ShardMap } from '../map/shard-map.ts';
import type { DataCaller } from './data-router.ts';

/**
 * Where a router sends a shard's operations: to the replica it last learned leads it. Leaders
 * change without the map changing (the replicas elect one among themselves, control plane or
 * not), so the map's first replica is only the first guess; a follower's refusal names the
 * leader it knows, and a replica that cannot be reached or knows none sends the router on to
 * the next replica in the set.
 */
export class ShardLeaders {
  readonly #hints = new Map<number, string>();

  /** The node to try for the shard's leader. */
  nodeFor(map: ShardMap, shard: number): string | undefined {
    const replicas = map.shard(shard)?.replicas ?? [];
    const hint = this.#hints.get(shard);
    const record = map.shard(shard);
    return hint !== undefined && replicas.includes(hint) ? hint : record && preferredLeaderOf(record);
  }

  /** A replica for a read that accepts a follower's view: this node when it holds one, else the leader. */
  nearest(map: ShardMap, shard: number, self: string | undefined): string | undefined {
    const replicas = map.shard(shard)?.replicas ?? [];
    return self !== undefined && replicas.includes(self) ? self : this.nodeFor(map, shard);
  }

  /** Learns from a refusal by `tried`; answers whether it pointed elsewhere (worth an immediate retry). */
  learn(map: ShardMap, shard: number, tried: string, err: unknown): boolean {
    const e = toShoalError(err);
    const details = (e.details ?? {}) as { notLeader?: unknown; leader?: unknown; sent?: unknown };
    if (e.code !== 'UNAVAILABLE' && e.code !== 'CIRCUIT_OPEN' && e.code !== 'TIMEOUT') return false;
    if (details.notLeader === true && typeof details.leader === 'string' && details.leader !== tried) {
      this.#hints.set(shard, details.leader);
      return true;
    }
    // No leader known there, or the node is unreachable: the next replica in the set.
    const replicas = map.shard(shard)?.replicas ?? [];
    if (replicas.length < 2) return false;
    const next = replicas[(replicas.indexOf(tried) + 1) % replicas.length];
    this.#hints.set(shard, next);
    return false;
  }
}

/** How long a call to a shard's leader keeps looking for it: several elections' worth. */
const FIND_LEADER_MS = 15_000;

/**
 * Calls an action on a shard's leader, following refusals and unreachable replicas until one
 * answers. For idempotent actions only (slot moves and admin calls): an attempt that failed on
 * the way may have run.
 */
export function shardLeaderCaller(caller: DataCaller, map: () => ShardMap, leaders = new ShardLeaders()) {
  return async (shard: number, action: string, params: Record<string, unknown>, timeoutMs: number): Promise<unknown> => {
    const deadline = Date.now() + FIND_LEADER_MS;
    for (let attempt = 0; ; attempt++) {
      const current = map();
      const node = leaders.nodeFor(current, shard);
      if (!node) throw new ShoalError('CONFLICT', `shard ${shard} is not in the shard map`, { shard, mapVersion: current.version });
      try {
        return await caller.call('$data', 1, action, params, { node, timeoutMs });
      } catch (err) {
        const code = toShoalError(err).code;
        if ((code !== 'UNAVAILABLE' && code !== 'TIMEOUT' && code !== 'CIRCUIT_OPEN') || Date.now() > deadline) throw err;
        if (!leaders.learn(current, shard, node, err)) await sleep(Math.min(250, 20 * 2 ** attempt));
      }
    }
  };
}
