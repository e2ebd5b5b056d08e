import { Membership, type Coordinator, type MemberRecord, type Watch } from '../../control/index.ts';
import { ShoalError, silentLogger, toShoalError, type Logger } from '../../core/index.ts';
import { DATA_NODES_PREFIX, LEADER_REQUESTS_PREFIX, MAP_KEY, MOVES_PREFIX, REBALANCE_PROGRESS_KEY, REBALANCE_REQUEST_KEY } from '../map/keys.ts';
import type { ShardMapCache } from '../map/map-cache.ts';
import { encodeRanges, parseShardMap, type ShardMap, type ShardMapData } from '../map/shard-map.ts';
import type { DataCaller } from '../router/data-router.ts';
import { shardLeaderCaller } from '../router/shard-leaders.ts';
import { LeaderLease, type Leadership } from './leader-lease.ts';
import { isMoveRecord, type MoveRecord } from './move-record.ts';
import { planMoves, reshape, type DataNodeInfo } from './plan.ts';
import type { RebalanceProgress, RebalanceRequest } from './progress.ts';
import { resolveMove, runMove, type MoveContext } from './slot-move.ts';

/**
 * How long a data node may be missing before its replicas are rebuilt on other nodes. A copy
 * costs a whole shard's transfer, so it is long enough for the supervisor to restart a crashed
 * node (and for a brief partition to heal); a node removed on purpose hands its replicas over first.
 */
const DEFAULT_DEAD_AFTER_MS = 120_000;

export interface RebalancerOptions {
  nodeId: string;
  coordinator: Coordinator;
  caller: DataCaller;
  maps: ShardMapCache;
  logger?: Logger;
  /** How long a data node may be gone before its replicas are rebuilt elsewhere (`data.replicaTimeout`, default 120 s). */
  deadAfterMs?: number;
  /** Replicas per shard (`data.replicas`), capped by the nodes that can hold a placement. */
  replicas?: number;
  /** Slots moved together in one move (default 256). */
  rangeSize?: number;
  /** Documents per copied page (default 200). */
  pageSize?: number;
  /** Pause between copied pages (default 2 ms). */
  pagePauseMs?: number;
  leaseTtlMs?: number;
}

/**
 * Every data node runs one; the one holding the lease leads. The leader keeps the map in step
 * with the data nodes: it creates the first map, gives new nodes shards, empties draining nodes,
 * gives up the slots of nodes gone for good, and moves slots until every shard holds its share.
 */
export class Rebalancer {
  private readonly options: RebalancerOptions;
  private readonly logger: Logger;
  private readonly lease: LeaderLease;
  private readonly nodesView: Membership;
  private nodes: DataNodeInfo[] = [];
  /** Set once the data-node list has been read: until then "no nodes" means "not known yet". */
  private nodesKnown = false;
  private readonly missingSince = new Map<string, number>();
  /** The last registration seen of each node, for nodes now missing. */
  private readonly lastSeen = new Map<string, DataNodeInfo>();
  private nodesWatch?: Watch;
  private requestWatch?: Watch;
  private leaderWatch?: Watch;
  private wake?: () => void;
  private stopped = false;
  private loop?: Promise<void>;
  private progress: RebalanceProgress;
  /** Moves made since a pending `shoal rebalance` request was seen, reported when it is answered. */
  private requestTally?: { request: string; moves: number; docs: number };

  constructor(options: RebalancerOptions) {
    this.options = options;
    this.logger = (options.logger ?? silentLogger).child({ component: 'rebalancer' });
    this.lease = new LeaderLease({ coordinator: options.coordinator, nodeId: options.nodeId, ttlMs: options.leaseTtlMs ?? 3_000, logger: this.logger });
    this.nodesView = new Membership(options.coordinator, { prefix: DATA_NODES_PREFIX, logger: this.logger });
    this.progress = { state: 'idle', leader: options.nodeId, movesTotal: 0, movesDone: 0, docsMoved: 0, bytesMoved: 0, lostSlots: 0, updatedAt: Date.now() };
  }

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.lease.resign();
    this.nodesWatch?.close();
    this.requestWatch?.close();
    this.leaderWatch?.close();
    this.nodesView.close();
    await this.loop?.catch(() => undefined);
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const leadership = await this.lease.acquire();
      if (!leadership) return;
      await this.lead(leadership).catch((err: unknown) => this.logger.error({ err: toShoalError(err).message }, 'rebalancer leadership ended with an error'));
      this.nodesWatch?.close();
      this.requestWatch?.close();
      this.leaderWatch?.close();
    }
  }

  private async lead(leadership: Leadership): Promise<void> {
    const { coordinator } = this.options;
    this.nodesKnown = false;
    this.nodesWatch = this.nodesView.watchMembers((members) => {
      this.nodes = members.map(dataNodeOf);
      // Remembered as it arrives, not only at the next pass: a node that marks itself draining
      // and leaves while a move runs must still be known as leaving, not as down for a moment.
      for (const node of this.nodes) this.lastSeen.set(node.id, node);
      this.nodesKnown = true;
      this.trigger();
    });
    this.requestWatch = coordinator.watch(REBALANCE_REQUEST_KEY, () => this.trigger());
    this.leaderWatch = coordinator.watch(LEADER_REQUESTS_PREFIX, () => this.trigger());
    leadership.signal.addEventListener('abort', () => this.trigger());
    const previous = await coordinator.get(REBALANCE_PROGRESS_KEY).catch(() => undefined);
    if (previous?.value && typeof previous.value === 'object') {
      const p = previous.value as RebalanceProgress;
      this.progress = { ...this.progress, handledRequest: p.handledRequest, lostSlots: p.lostSlots ?? 0 };
    }
    while (!this.stopped && !leadership.signal.aborted) {
      try {
        await this.pass(leadership);
      } catch (err) {
        const e = toShoalError(err);
        this.logger.warn({ err: e.message }, 'rebalance pass failed; will retry');
        this.progress.lastError = e.message;
        await this.publish().catch(() => undefined);
      }
      // The periodic wake notices nodes whose grace period ran out; changes wake it earlier.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1_000);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  private trigger(): void {
    this.wake?.();
  }

  private async pass(leadership: Leadership): Promise<void> {
    const { coordinator } = this.options;
    if (!this.nodesKnown) return;
    const request = (await coordinator.get(REBALANCE_REQUEST_KEY))?.value as RebalanceRequest | undefined;
    const ctx = this.moveContext(leadership);

    // Moves a previous leader (or a failed attempt) left behind come first.
    const { entries } = await coordinator.list(MOVES_PREFIX);
    for (const entry of entries) {
      if (!isMoveRecord(entry.value)) {
        await coordinator.delete(entry.key).catch(() => undefined);
        continue;
      }
      await resolveMove(ctx, entry.key, entry.value, entry.version);
    }

    await this.leaderRequests(leadership);
    const now = Date.now();
    const nodesAtStart = nodesKey(this.nodes);
    const map = await this.options.maps.refresh();
    const { nodes, dead } = this.presentNodes(map, now);
    if (this.nodes.length > 0) {
      const shape = reshape(map, nodes, dead, this.options.replicas ?? 1);
      if (shape.changed) {
        for (const loss of shape.lost) {
          this.logger.warn({ nodes: loss.node, shard: loss.shard, placement: loss.placement, slots: loss.slots }, 'every replica of a shard is gone: its slots go to live shards and its documents are lost');
          this.progress.lostSlots += loss.slots;
        }
        for (const change of shape.replaced) this.logger.info(change, 'replica set changed');
        await this.writeMap(leadership, () => shape.data);
      }
    }

    const current = await this.options.maps.refresh();
    const moves = planMoves(current, this.presentNodes(current, Date.now()).nodes, this.options.rangeSize ?? 256);
    const requested = request && request.id !== this.progress.handledRequest ? request.id : undefined;
    this.tallyFor(request);
    if (moves.length === 0) {
      if (requested || this.progress.state !== 'idle') {
        const answered = requested ? { handledRequest: requested, handledMoves: this.requestTally?.moves ?? 0, handledDocsMoved: this.requestTally?.docs ?? 0 } : {};
        if (requested) this.requestTally = undefined;
        this.progress = { ...this.progress, state: 'idle', current: undefined, ...answered, lastError: undefined };
        await this.publish();
      }
      return;
    }
    this.logger.info({ moves: moves.length, mapVersion: current.version }, 'rebalancing');
    this.progress = { ...this.progress, state: 'moving', movesTotal: moves.length, movesDone: 0, docsMoved: 0, bytesMoved: 0, lastError: undefined };
    await this.publish();
    for (const move of moves) {
      if (this.stopped || leadership.signal.aborted) return;
      // A node joined, left or began draining: its replica sets change first (a pass of moves
      // takes long, and a draining node may stop before it ends), then the moves are planned again.
      if (nodesKey(this.nodes) !== nodesAtStart) break;
      await runMove(ctx, move);
      // A request made while this pass runs counts the moves finished after it (the one in flight too).
      this.tallyFor((await coordinator.get(REBALANCE_REQUEST_KEY).catch(() => undefined))?.value as RebalanceRequest | undefined);
      this.progress.movesDone++;
      this.progress.docsMoved += this.progress.current?.docs ?? 0;
      if (this.requestTally) {
        this.requestTally.moves++;
        this.requestTally.docs += this.progress.current?.docs ?? 0;
      }
      this.progress.bytesMoved += this.progress.current?.bytes ?? 0;
      this.progress.current = undefined;
      await this.publish();
    }
    // The next pass (right away) finds nothing left to do and reports idle, or plans again
    // what a change of nodes cut short.
    this.trigger();
  }

  /** `shoal data leader` requests: each names the replica a shard's leadership should go to. */
  private async leaderRequests(leadership: Leadership): Promise<void> {
    const { entries } = await this.options.coordinator.list(LEADER_REQUESTS_PREFIX);
    for (const entry of entries) {
      const request = entry.value as { shard?: unknown; node?: unknown } | null;
      const shard = Number(request?.shard);
      const node = request?.node;
      const record = this.options.maps.map.shard(shard);
      if (record && typeof node === 'string' && record.replicas.includes(node) && record.preferredLeader !== node) {
        await this.writeMap(leadership, (data) => ({ ...data, shards: { ...data.shards, [String(shard)]: { ...data.shards[String(shard)], preferredLeader: node } } }));
        this.logger.info({ shard, node }, 'preferred leader set');
      } else if (!record || typeof node !== 'string' || !record.replicas.includes(node)) {
        this.logger.warn({ shard: request?.shard, node }, 'leader request names no replica of a shard; dropped');
      }
      await this.options.coordinator.delete(entry.key).catch(() => undefined);
    }
  }

  /**
   * The registered data nodes plus those missing for less than the replica timeout (they keep
   * their replicas and their share of slots), and the ids gone for longer.
   */
  private presentNodes(map: ShardMap, now: number): { nodes: DataNodeInfo[]; dead: Set<string> } {
    const live = new Set(this.nodes.map((n) => n.id));
    for (const node of this.nodes) this.lastSeen.set(node.id, node);
    const nodes: DataNodeInfo[] = [...this.nodes];
    const dead = new Set<string>();
    const members = new Set(Object.values(map.data.shards).flatMap((s) => s.replicas));
    for (const id of members) {
      if (live.has(id)) {
        this.missingSince.delete(id);
        continue;
      }
      if (!this.missingSince.has(id)) this.missingSince.set(id, now);
      if (now - this.missingSince.get(id)! >= (this.options.deadAfterMs ?? DEFAULT_DEAD_AFTER_MS)) dead.add(id);
      else nodes.push({ ...(this.lastSeen.get(id) ?? { id, groups: [], draining: false }), missing: true });
    }
    return { nodes, dead };
  }

  /** Starts counting moves for a request not yet answered, once. */
  private tallyFor(request: RebalanceRequest | undefined): void {
    if (!request || request.id === this.progress.handledRequest || this.requestTally?.request === request.id) return;
    this.requestTally = { request: request.id, moves: 0, docs: 0 };
  }

  private moveContext(leadership: Leadership): MoveContext {
    let lastPublish = 0;
    return {
      coordinator: this.options.coordinator,
      callShard: shardLeaderCaller(this.options.caller, () => this.options.maps.map),
      logger: this.logger,
      token: leadership.token,
      signal: leadership.signal,
      map: () => this.options.maps.refresh(),
      switchSlots: (move) => this.switchSlots(leadership, move),
      onProgress: (record) => {
        this.progress.current = { placement: record.placement, first: record.first, last: record.last, fromNode: record.fromNode, toNode: record.toNode, phase: record.phase, docs: record.docs, bytes: record.bytes };
        // Progress is advisory: written at most a few times a second.
        if (Date.now() - lastPublish > 250) {
          lastPublish = Date.now();
          void this.publish().catch(() => undefined);
        }
      },
      pageSize: this.options.pageSize ?? 200,
      pagePauseMs: this.options.pagePauseMs ?? 2,
    };
  }

  private async switchSlots(leadership: Leadership, move: MoveRecord): Promise<number> {
    const map = await this.writeMap(leadership, (data, current) => {
      const table = current.table(move.placement);
      for (let slot = move.first; slot <= move.last; slot++) {
        if (table[slot] !== move.fromShard) throw new ShoalError('CONFLICT', `slot ${slot} is no longer on shard ${move.fromShard}`);
        table[slot] = move.toShard;
      }
      return { ...data, placements: { ...data.placements, [move.placement]: encodeRanges(table) } };
    });
    return map.version;
  }

  /**
   * Compare-and-set of the map, refused when a leader with a newer fencing token has written
   * it or this leader's lease is gone.
   */
  private async writeMap(leadership: Leadership, change: (data: ShardMapData, current: ShardMap) => ShardMapData): Promise<ShardMap> {
    const { coordinator } = this.options;
    if (leadership.signal.aborted) throw new ShoalError('CONFLICT', 'no longer the rebalancer leader');
    const entry = await coordinator.get(MAP_KEY);
    const current = entry ? parseShardMap(entry.value, entry.version) : parseShardMap(undefined, 0);
    if (current.data.writerToken > leadership.token) throw new ShoalError('CONFLICT', 'a newer rebalancer leader wrote the map');
    const next = { ...change(structuredClone(current.data), current), writerToken: leadership.token };
    const written = await coordinator.put(MAP_KEY, next, { expectVersion: entry?.version ?? 0 });
    const map = parseShardMap(written.value, written.version);
    this.options.maps.offer(map);
    this.logger.info({ mapVersion: map.version }, 'shard map written');
    return map;
  }

  private async publish(): Promise<void> {
    this.progress.updatedAt = Date.now();
    await this.options.coordinator.put(REBALANCE_PROGRESS_KEY, this.progress);
  }
}

/** What the plan depends on of the data nodes, to tell whether it changed. */
function nodesKey(nodes: readonly DataNodeInfo[]): string {
  return JSON.stringify([...nodes].sort((a, b) => a.id.localeCompare(b.id)).map((n) => [n.id, n.draining, n.groups, n.zone ?? null]));
}

function dataNodeOf(record: MemberRecord): DataNodeInfo {
  const groups = Array.isArray(record.groups) ? record.groups.filter((g): g is string => typeof g === 'string') : [];
  const zone = typeof record.zone === 'string' && record.zone !== '' ? record.zone : undefined;
  return { id: record.id, groups, draining: record.draining === true, ...(zone ? { zone } : {}) };
}
