import { setTimeout as sleep } from 'node:timers/promises';
import type { RaftMessage } from '../../consensus/index.ts';
import { ShoalError, silentLogger, toShoalError, type Logger } from '../../core/index.ts';
import type { ShardMapCache } from '../map/map-cache.ts';
import { redirectError, fencedError } from '../map/redirect.ts';
import { placementOf, type ShardMap, type ShardRecord } from '../map/shard-map.ts';
import { notLeaderError, ReplicaGroup } from '../replica/replica-group.ts';
import { followerStalenessBoundMs, type ReplicaTiming } from '../replica/timing.ts';
import { SLOT_COUNT, type CollectionSpec, type ShardEngine, type ShardWrite, type ShardWriteResult } from '../types.ts';
import { isCorruptStore, type ShardStore } from './engines.ts';
import type { FenceTable } from './fence-table.ts';
import { WriteBatcher } from './write-batcher.ts';

/** How long a write waits for a fenced slot to finish switching before answering UNAVAILABLE. */
const FENCE_WAIT_MS = 2_000;
/** How long a write acknowledged by all waits for the slowest replica. */
const ACK_ALL_TIMEOUT_MS = 5_000;
/** How long closing waits for queued writes to commit. */
const SETTLE_ON_CLOSE_MS = 2_000;

export interface Owned {
  engine: ShardEngine;
  group: ReplicaGroup;
  shard: number;
  spec: CollectionSpec;
}

/** How the node reaches the other replicas of its shards. */
export interface ReplicaPeers {
  send(to: string, shard: number, messages: RaftMessage[]): void;
  sendCopy(to: string, group: ReplicaGroup): Promise<void>;
  /** Whether the node holds replica state for the shard; rejects when it cannot be asked. */
  hasState(node: string, shard: number): Promise<boolean>;
  /** The shard group's voters and learners as the leader among `nodes` knows them; undefined when none of them leads it. */
  leaderMembers(nodes: readonly string[], shard: number): Promise<string[] | undefined>;
}

export type Consistency = 'leader' | 'follower';

/**
 * The shard replicas this node holds: one ReplicaGroup per shard whose replica set (in the
 * newest map) names this node, opened as soon as the map does and closed (its store removed)
 * once the map no longer does and its group's leader no longer counts it. Operations are judged here: the slot must belong to a shard
 * replicated here, and a write or a leader read must find this replica leading it. Every check
 * reads the map once with no await before the engine call it guards; a read is judged again
 * when the engine answers, and a queued write again just before its batch is proposed.
 */
export class ShardHost {
  readonly nodeId: string;
  readonly #groups = new Map<number, ReplicaGroup>();
  readonly #opening = new Map<number, Promise<ReplicaGroup | undefined>>();
  readonly #batchers = new Map<ReplicaGroup, WriteBatcher>();
  readonly #specs: Map<string, CollectionSpec>;
  readonly #store: ShardStore;
  readonly #maps: ShardMapCache;
  readonly #fences: FenceTable;
  readonly #logger: Logger;
  readonly #ready: Promise<void>;
  readonly #timing: ReplicaTiming;
  #peers?: ReplicaPeers;
  #closed = false;

  constructor(options: { nodeId: string; specs: CollectionSpec[]; store: ShardStore; maps: ShardMapCache; fences: FenceTable; ready: Promise<void>; timing: ReplicaTiming; logger?: Logger }) {
    this.nodeId = options.nodeId;
    this.#specs = new Map(options.specs.map((s) => [s.name, s]));
    this.#store = options.store;
    this.#maps = options.maps;
    this.#fences = options.fences;
    this.#logger = options.logger ?? silentLogger;
    this.#ready = options.ready;
    this.#timing = options.timing;
  }

  /** Bound once the broker that carries replica traffic runs. */
  attach(peers: ReplicaPeers): void {
    this.#peers = peers;
  }

  get mapVersion(): number {
    return this.#maps.version;
  }

  get timing(): ReplicaTiming {
    return this.#timing;
  }

  spec(collection: string): CollectionSpec {
    const spec = this.#specs.get(collection);
    if (!spec) throw new ShoalError('NOT_FOUND', `unknown collection "${collection}"`, { collections: [...this.#specs.keys()] });
    return spec;
  }

  collections(): CollectionSpec[] {
    return [...this.#specs.values()];
  }

  /** The map to judge a caller by: refreshed first when the caller has seen a newer one. */
  async mapFor(callerVersion: number): Promise<ShardMap> {
    await this.#ready;
    return callerVersion > this.#maps.version ? this.#maps.atLeast(callerVersion) : this.#maps.map;
  }

  /** Opens the replicas the map gives this node and closes the ones it took away. */
  async sync(map: ShardMap): Promise<void> {
    if (this.#closed || map.version === 0) return;
    const wanted = new Set<number>();
    for (const record of Object.values(map.data.shards)) {
      if (!record.replicas.includes(this.nodeId)) continue;
      wanted.add(record.id);
      if (!this.#groups.has(record.id)) void this.#open(record.id).catch((err: unknown) => this.#logger.warn({ shard: record.id, err: toShoalError(err).message }, 'could not open shard replica'));
    }
    const dropped = [...this.#groups].filter(([shard]) => !wanted.has(shard));
    const stillNeeded = await Promise.all(dropped.map(([shard, group]) => this.#stillMember(map, shard, group)));
    for (const [i, [shard, group]] of dropped.entries()) {
      if (stillNeeded[i] || this.#groups.get(shard) !== group) continue;
      this.#groups.delete(shard);
      const batcher = this.#batchers.get(group);
      this.#batchers.delete(group);
      await Promise.race([batcher?.settle().catch(() => undefined), sleep(SETTLE_ON_CLOSE_MS)]);
      await group.close();
      await group.engine.close().catch(() => undefined);
      await this.#store.remove(shard).catch((err: unknown) => this.#logger.warn({ shard, err: String(err) }, 'could not remove a shard replica store'));
      this.#logger.info({ shard }, 'shard replica removed from this node');
    }
  }

  /**
   * Whether a replica the map dropped still counts in its group. It stays a voter until the
   * leader has removed it (after the replica replacing it caught up): closing it first would
   * leave the group a voter short meanwhile, and without a majority if another one stops too,
   * as when two nodes are removed one after the other. A shard gone from the map is gone
   * everywhere; a group whose leader cannot be found yet keeps this replica.
   */
  async #stillMember(map: ShardMap, shard: number, group: ReplicaGroup): Promise<boolean> {
    const record = map.shard(shard);
    if (!record) return false;
    const status = group.status;
    // A leader the map dropped hands leadership to a replica that stays before it is removed.
    if (status.role === 'leader') return true;
    const ask = [...new Set([...record.replicas, ...(status.leader && status.leader !== this.nodeId ? [status.leader] : [])])];
    try {
      const members = await this.#peers?.leaderMembers(ask, shard);
      return members === undefined || members.includes(this.nodeId);
    } catch {
      return true;
    }
  }

  /** The group of a shard replicated here, opening it if the map names this node; undefined when it does not. */
  group(shardId: number): ReplicaGroup | undefined {
    return this.#groups.get(shardId);
  }

  groups(): ReplicaGroup[] {
    return [...this.#groups.values()];
  }

  /** Consensus messages for a shard: delivered to its group, which is opened first if the map says it belongs here. */
  async deliver(shardId: number, messages: RaftMessage[]): Promise<void> {
    let group = this.#groups.get(shardId);
    if (!group) {
      let map = this.#maps.map;
      if (!map.shard(shardId)?.replicas.includes(this.nodeId)) map = await this.#maps.refresh().catch(() => map);
      if (!map.shard(shardId)?.replicas.includes(this.nodeId)) return;
      group = await this.#open(shardId);
    }
    group?.receive(messages);
  }

  #open(shardId: number): Promise<ReplicaGroup | undefined> {
    let opening = this.#opening.get(shardId);
    if (!opening) {
      opening = this.#openGroup(shardId).finally(() => this.#opening.delete(shardId));
      this.#opening.set(shardId, opening);
    }
    return opening;
  }

  async #openGroup(shardId: number): Promise<ReplicaGroup | undefined> {
    if (this.#closed) throw new ShoalError('UNAVAILABLE', 'the data store is stopping', { sent: false });
    const peers = this.#peers;
    if (!peers) throw new ShoalError('UNAVAILABLE', 'the data store is not started yet', { sent: false });
    const record = this.#maps.map.shard(shardId);
    if (!record) return undefined;
    const engine = await this.#openEngine(shardId, record);
    try {
      const stored = await engine.loadReplica();
      const bootstrap = !stored && (await this.#mayBootstrap(record, peers));
      if (bootstrap === undefined) {
        await engine.close();
        return undefined;
      }
      const group = await ReplicaGroup.open({
        shard: shardId,
        nodeId: this.nodeId,
        engine,
        bootstrap,
        timing: this.#timing,
        random: Math.random,
        send: (messages) => {
          const byPeer = new Map<string, RaftMessage[]>();
          for (const m of messages) {
            let list = byPeer.get(m.to);
            if (!list) byPeer.set(m.to, (list = []));
            list.push(m);
          }
          for (const [to, list] of byPeer) peers.send(to, shardId, list);
        },
        sendSnapshot: (to) => peers.sendCopy(to, group),
        logger: this.#logger,
      });
      if (this.#closed) {
        await group.close();
        await engine.close();
        return undefined;
      }
      this.#groups.set(shardId, group);
      this.#logger.info({ shard: shardId, placement: record.placement, bootstrap, restored: stored !== undefined }, 'shard replica opened');
      return group;
    } catch (err) {
      await engine.close().catch(() => undefined);
      throw err;
    }
  }

  /**
   * Whether an empty store starts the shard's group: only the first replica in the map, and
   * only when no other listed replica holds state for it (so a node that lost its disk never
   * founds a second group beside the surviving one). Undefined: cannot tell yet, try later.
   */
  async #mayBootstrap(record: ShardRecord, peers: ReplicaPeers): Promise<boolean | undefined> {
    if (record.replicas[0] !== this.nodeId) return false;
    const others = record.replicas.filter((n) => n !== this.nodeId);
    try {
      const answers = await Promise.all(others.map((n) => peers.hasState(n, record.id)));
      return !answers.some(Boolean);
    } catch {
      return undefined;
    }
  }

  /**
   * Opens a replica's store. A damaged one (a file that is no longer a database) is moved aside
   * and the replica starts empty: it then takes no part in elections until its leader has sent
   * it a copy, so the shard is rebuilt here from the others.
   */
  async #openEngine(shardId: number, record: ShardRecord): Promise<ShardEngine> {
    try {
      return await this.#openPrepared(shardId, record);
    } catch (err) {
      if (!isCorruptStore(err)) throw err;
      const aside = await this.#store.quarantine(shardId);
      this.#logger.error({ shard: shardId, err: String(err), movedTo: aside }, 'shard store is damaged: moved aside; the replica is rebuilt from a copy of its leader');
      return this.#openPrepared(shardId, record);
    }
  }

  async #openPrepared(shardId: number, record: ShardRecord): Promise<ShardEngine> {
    const engine = await this.#store.open(shardId);
    try {
      for (const spec of this.#specs.values()) if (placementOf(spec.group) === record.placement) await engine.ensureCollection(spec);
      // Reading the replica state touches the log pages too: damage there shows now, not mid-step.
      await engine.loadReplica();
    } catch (err) {
      await engine.close().catch(() => undefined);
      throw err;
    }
    return engine;
  }

  /** Replaces a shard's store with a copy received from its leader; answers the new engine. */
  async replaceStore(shardId: number, copyPath: string): Promise<ShardEngine> {
    const group = this.#groups.get(shardId);
    const record = this.#maps.map.shard(shardId);
    if (!group || !record) throw new ShoalError('NOT_FOUND', `shard ${shardId} has no replica here`);
    await group.engine.close();
    await this.#store.install(shardId, copyPath);
    return this.#openEngine(shardId, record);
  }

  /** The group serving a shard of the map here, or a refusal that tells the router where to go. */
  #groupFor(map: ShardMap, shardId: number): ReplicaGroup | undefined {
    const record = map.shard(shardId);
    if (!record || !record.replicas.includes(this.nodeId)) throw redirectError(`shard ${shardId}`, map.version);
    return this.#groups.get(shardId);
  }

  async #groupReady(map: ShardMap, shardId: number): Promise<ReplicaGroup> {
    for (let attempt = 0; ; attempt++) {
      const group = this.#groupFor(map, shardId);
      if (group) return group;
      const opened = await this.#open(shardId).catch(() => undefined);
      if (opened) return opened;
      // Listed here but not openable yet (its founder is still asking the others): not a leader.
      if (attempt >= 2) throw notLeaderError(shardId, null);
      await sleep(50);
    }
  }

  /** For reads: the slot's shard is replicated here, and led here unless the caller accepts a follower's view. */
  async forRead(collection: string, slot: number, callerVersion: number, consistency: Consistency = 'leader'): Promise<Owned> {
    const spec = this.spec(collection);
    checkSlot(slot);
    const map = await this.mapFor(callerVersion);
    const shard = map.shardOf(placementOf(spec.group), slot);
    if (shard === undefined) throw redirectError(`slot ${slot}`, map.version);
    const group = await this.#groupReady(map, shard);
    if (consistency === 'follower' && !group.isLeader) {
      const stale = group.sinceLeaderContact();
      const bound = followerStalenessBoundMs(this.#timing);
      if (stale > bound) throw new ShoalError('UNAVAILABLE', `this replica of shard ${shard} has not heard from a leader for over ${bound} ms`, { sent: false, notLeader: true, leader: group.leader });
      return { engine: group.engine, group, shard, spec };
    }
    await group.readBarrier();
    return { engine: group.engine, group, shard, spec };
  }

  /**
   * For writes: led here and not fenced. A fenced slot is waited on briefly, since the switch
   * usually ends within a few milliseconds and then the slot either is still here or redirects.
   */
  async forWrite(collection: string, slot: number, callerVersion: number): Promise<Owned> {
    const spec = this.spec(collection);
    checkSlot(slot);
    const until = Date.now() + FENCE_WAIT_MS;
    for (;;) {
      const map = await this.mapFor(callerVersion);
      const shard = map.shardOf(placementOf(spec.group), slot);
      if (shard === undefined) throw redirectError(`slot ${slot}`, map.version);
      const group = await this.#groupReady(map, shard);
      if (!group.isLeader) throw notLeaderError(shard, group.leader);
      if (!this.#fences.isFenced(shard, slot)) return { engine: group.engine, group, shard, spec };
      if (Date.now() > until) throw fencedError(slot);
      await sleep(10);
      // The switch may have produced a newer map than the caller's; judge by it next round.
      callerVersion = Math.max(callerVersion, this.#maps.version);
    }
  }

  /**
   * Applies a write checked by forWrite in the shard's next group commit, which is one entry of
   * its replicated log. `again` repeats the whole operation, checks included; it runs instead
   * when the slot stopped being writable here while the write was queued.
   */
  write<T>(owned: Owned, slot: number, write: ShardWrite, again: () => Promise<T>): Promise<T> {
    let batcher = this.#batchers.get(owned.group);
    if (!batcher) {
      const group = owned.group;
      batcher = new WriteBatcher(async (writes): Promise<ShardWriteResult[]> => {
        const result = await group.propose({ kind: 'writes', writes: [...writes] });
        if (result.kind === 'writes') return result.results;
        throw result.kind === 'refused' ? result.error : new ShoalError('INTERNAL', `a write batch was answered as ${result.kind}`);
      });
      this.#batchers.set(group, batcher);
    }
    const written = batcher.submit(write, () => this.#writableHere(owned, slot), again);
    return owned.spec.ack === 'all' ? written.then(async (value) => (await owned.group.allReplicated(ACK_ALL_TIMEOUT_MS), value)) : written;
  }

  /** forRead's verdict again, synchronously, against the map as it is now: for judging a read once the engine answered. */
  stillLeads(owned: Owned, slots: Iterable<number>, consistency: Consistency = 'leader'): boolean {
    const map = this.#maps.map;
    const record = map.shard(owned.shard);
    if (!record?.replicas.includes(this.nodeId) || this.#groups.get(owned.shard) !== owned.group || owned.group.engine !== owned.engine) return false;
    if (consistency === 'leader' && !owned.group.isLeader) return false;
    for (const slot of slots) if (map.shardOf(record.placement, slot) !== owned.shard) return false;
    return true;
  }

  /** Resolves once writes to the shard already handed to its log are committed (what a fence must wait for). */
  async writesCommitted(shardId: number): Promise<void> {
    const group = this.#groups.get(shardId);
    const batcher = group && this.#batchers.get(group);
    await batcher?.committed();
  }

  /** forWrite's verdict again, synchronously, against the map and fences as they are now. */
  #writableHere(owned: Owned, slot: number): boolean {
    return this.stillLeads(owned, [slot]) && !this.#fences.isFenced(owned.shard, slot);
  }

  /** For move and admin operations, which name their shard: it must be led here. */
  async shardEngine(shardId: number, callerVersion: number): Promise<{ engine: ShardEngine; map: ShardMap; group: ReplicaGroup }> {
    const map = await this.mapFor(callerVersion);
    const group = await this.#groupReady(map, shardId);
    if (!group.isLeader) throw notLeaderError(shardId, group.leader);
    return { engine: group.engine, map, group };
  }

  /** Open replicas, for stats and status. */
  openShards(): Array<{ shard: number; engine: ShardEngine; group: ReplicaGroup }> {
    return [...this.#groups].map(([shard, group]) => ({ shard, engine: group.engine, group }));
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled(this.#opening.values());
    // Writes already queued were accepted: give them their chance to commit before the groups go
    // (bounded: without a majority they cannot, and closing the group fails them as uncertain).
    await Promise.race([Promise.all([...this.#batchers.values()].map((batcher) => batcher.settle().catch(() => undefined))), sleep(SETTLE_ON_CLOSE_MS)]);
    this.#batchers.clear();
    for (const [shard, group] of this.#groups) {
      try {
        await group.close();
        await group.engine.close();
      } catch (err) {
        this.#logger.warn({ shard, err: String(err) }, 'closing shard failed');
      }
    }
    this.#groups.clear();
  }
}

export function checkSlot(slot: number): void {
  if (!Number.isInteger(slot) || slot < 0 || slot >= SLOT_COUNT) throw new ShoalError('BAD_REQUEST', `slot must be an integer from 0 to ${SLOT_COUNT - 1}, got ${slot}`);
}
