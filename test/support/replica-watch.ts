/**
 * What a replication fault test reads of a cluster's shard replicas: each node's own report
 * (`$data.replicaStatus`), the combined view (`$data.map`), a document as one replica holds
 * it, and a watch that collects, over a whole run, which node each replica named as its shard's
 * leader in each term, so a test can check that no term ever had two.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { placementOf, slotOf, type DataCaller, type ReplicaReport, type ShardReplication, type StoredDocument } from '../../src/data/index.ts';

export type { ReplicaReport };

export async function replicaStatus(caller: DataCaller, node: string, timeoutMs = 2_000): Promise<ReplicaReport[]> {
  const answer = (await caller.call('$data', 1, 'replicaStatus', {}, { node, timeoutMs })) as { replicas: ReplicaReport[] };
  return answer.replicas;
}

/** `node`'s replica of `shard`, or undefined when it has none open. */
export async function replicaOf(caller: DataCaller, node: string, shard: number): Promise<ReplicaReport | undefined> {
  return (await replicaStatus(caller, node)).find((r) => r.shard === shard);
}

/** `$data.map`, asked of `via` when given (a node known to reach the others), else of any node. */
export async function shardMap(caller: DataCaller, via?: string): Promise<{ shards: ShardReplication[]; unreachable: string[] }> {
  return (await caller.call('$data', 1, 'map', {}, { timeoutMs: 8_000, ...(via !== undefined ? { node: via } : {}) })) as { shards: ShardReplication[]; unreachable: string[] };
}

/**
 * The shard's leader and its commit index now, as the leader itself reports them; asked again
 * while the shard has none (an election or a hand-over under way).
 */
export async function leaderCommit(caller: DataCaller, shard: number, via?: string): Promise<{ leader: string; commit: number }> {
  const until = Date.now() + 30_000;
  for (;;) {
    try {
      const leader = (await shardMap(caller, via)).shards.find((s) => s.id === shard)?.leader;
      const own = leader ? await replicaOf(caller, leader, shard) : undefined;
      if (leader && own?.role === 'leader') return { leader, commit: own.commit };
    } catch (err) {
      if (Date.now() > until) throw err;
    }
    if (Date.now() > until) throw new Error(`shard ${shard} has no leader`);
    await sleep(200);
  }
}

/** Every shard has its full replica set in sync under a leader. */
export function fullyReplicated(shards: readonly ShardReplication[], replicas: number, count: number): boolean {
  return shards.length === count && shards.every((s) => s.leader !== null && s.replicas.length === replicas && !s.underReplicated);
}

/**
 * The document as `node`'s replica holds it: a follower read sent to that node alone, so the
 * answer is its own store's, not its leader's. Null when absent there. `mapVersion` is the
 * caller's map version (the node refreshes when it has an older one).
 */
export async function readOnReplica(caller: DataCaller, node: string, collection: string, key: string, mapVersion: number): Promise<StoredDocument | null> {
  const params = { collection, slot: slotOf(key), mapVersion, key, id: key, consistency: 'follower' };
  return (await caller.call('$data', 1, 'shardGet', params, { node, timeoutMs: 5_000 })) as StoredDocument | null;
}

/**
 * readOnReplica, asked again while the replica refuses: a follower read is refused, rightly,
 * while its replica has not heard from a leader lately (an election or a hand-over under way,
 * a node just back).
 */
export async function readOnReplicaWhenLed(caller: DataCaller, node: string, collection: string, key: string, mapVersion: number): Promise<StoredDocument | null> {
  const until = Date.now() + 20_000;
  for (;;) {
    try {
      return await readOnReplica(caller, node, collection, key, mapVersion);
    } catch (err) {
      const e = err as { code?: unknown; details?: { notLeader?: unknown } };
      if (e.code !== 'UNAVAILABLE' || e.details?.notLeader !== true || Date.now() > until) throw err;
      await sleep(200);
    }
  }
}

/** Keys `<prefix>-<i>` whose slots belong to one of `shards` (by the map's slot table), `count` of them. */
export function keysOnShards(shardOf: (placement: string, slot: number) => number | undefined, shards: ReadonlySet<number>, count: number, prefix: string): string[] {
  const keys: string[] = [];
  for (let i = 1; keys.length < count; i++) {
    if (i > 100_000) throw new Error(`no ${count} keys found on shards ${[...shards]}`);
    // The varying part first: keys differing only at their end hash to neighbouring slots.
    const key = `k${i}-${prefix}`;
    const shard = shardOf(placementOf(undefined), slotOf(key));
    if (shard !== undefined && shards.has(shard)) keys.push(key);
  }
  return keys;
}

/** One report as the watch saw it, with when (on the watch's clock). */
export interface SeenReport extends ReplicaReport {
  at: number;
}

/**
 * Polls `$data.replicaStatus` on each node in its own loop (a node that does not answer holds
 * up only its own loop) until stopped. A leader reporting itself, and a follower naming its
 * leader, are both claims about who led the shard in that term; Raft allows one per term.
 */
export class LeaderWatch {
  readonly #caller: DataCaller;
  readonly #nodes: readonly string[];
  readonly #clock: () => number;
  readonly #seen: SeenReport[] = [];
  #running = false;
  #loops: Promise<void>[] = [];

  constructor(caller: DataCaller, nodes: readonly string[], clock: () => number) {
    this.#caller = caller;
    this.#nodes = nodes;
    this.#clock = clock;
  }

  start(): void {
    this.#running = true;
    this.#loops = this.#nodes.map((node) => this.#poll(node));
  }

  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#loops);
  }

  async #poll(node: string): Promise<void> {
    while (this.#running) {
      try {
        const at = this.#clock();
        for (const report of await replicaStatus(this.#caller, node, 1_000)) this.#seen.push({ ...report, at });
      } catch {
        // Unreachable for now (partitioned, restarting): the other loops go on.
      }
      await sleep(150);
    }
  }

  /** Every report seen, optionally of one node and one shard. */
  reports(filter: { node?: string; shard?: number } = {}): SeenReport[] {
    return this.#seen.filter((r) => (filter.node === undefined || r.node === filter.node) && (filter.shard === undefined || r.shard === filter.shard));
  }

  /** (shard, term) pairs in which more than one node was claimed as leader, with the claims. */
  conflicts(): Array<{ shard: number; term: number; leaders: string[] }> {
    const claims = new Map<string, Set<string>>();
    for (const r of this.#seen) {
      const leader = r.role === 'leader' ? r.node : r.leader;
      if (leader === null) continue;
      const key = `${r.shard}/${r.term}`;
      let set = claims.get(key);
      if (!set) claims.set(key, (set = new Set()));
      set.add(leader);
    }
    return [...claims]
      .filter(([, leaders]) => leaders.size > 1)
      .map(([key, leaders]) => ({ shard: Number(key.split('/')[0]), term: Number(key.split('/')[1]), leaders: [...leaders].sort() }));
  }

  /** Distinct (shard, term, leader) claims seen, for a report. */
  terms(shard: number): Array<{ term: number; leader: string }> {
    const out = new Map<number, string>();
    for (const r of this.reports({ shard })) {
      const leader = r.role === 'leader' ? r.node : r.leader;
      if (leader !== null) out.set(r.term, leader);
    }
    return [...out].sort(([a], [b]) => a - b).map(([term, leader]) => ({ term, leader }));
  }
}
