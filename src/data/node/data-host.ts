import { setTimeout as sleep } from 'node:timers/promises';
import { Membership, type Coordinator } from '../../control/index.ts';
import { Backoff, ShoalError, silentLogger, toShoalError, type ContextExtensions, type Logger } from '../../core/index.ts';
import type { DataCollections } from '../index.ts';
import { collectionSpec } from '../collection.ts';
import { DATA_NODES_PREFIX } from '../map/keys.ts';
import { ShardMapCache } from '../map/map-cache.ts';
import { Rebalancer, type RebalancerOptions } from '../rebalance/rebalancer.ts';
import { DataRouter, type AnyCollectionDefinition, type DataCaller } from '../router/data-router.ts';
import { DataAdmin } from './data-admin.ts';
import { dataService, type DataService } from './data-service.ts';
import { sqliteEngines, type ShardEngineFactory } from './engines.ts';
import { FenceTable } from './fence-table.ts';
import { ShardHost } from './shard-host.ts';
import { ShardOps } from './shard-ops.ts';

/** Waiting for the coordinator at start: soon at first, then every 2 s at most. */
const RETRY_BACKOFF = { initialMs: 100, maxMs: 2_000 };

export interface DataHostOptions {
  nodeId: string;
  /** Cluster directory: this node's shards live in DIR/data/<nodeId>/shard-<id>.db. */
  dir: string;
  coordinator: Coordinator;
  collections: readonly AnyCollectionDefinition[];
  /** Placement groups this node belongs to (collections with one of these `group`s may live here). */
  groups?: readonly string[];
  logger?: Logger;
  /** Storage driver; SQLite files under `dir` by default. */
  openEngine?: ShardEngineFactory;
  /** Rebalancer tuning; false to never lead (a node that only stores). */
  rebalancer?: Partial<Omit<RebalancerOptions, 'nodeId' | 'coordinator' | 'caller' | 'maps'>> | false;
  /** Lease of the data-node record (default 2 s). */
  memberTtlMs?: number;
  /** The node's zone, published in its data-node record for placement. */
  zone?: string;
}

/**
 * Everything a node runs for the data store: the `$data` service over the shards it leads, a
 * router for `ctx.data`, its registration as a data node, and a rebalancer candidate.
 * Composition: pass `service` to the broker, `start(broker)` once the broker runs,
 * `drain()` before a planned stop (its slots move away first), `stop()` after the broker's.
 */
export class DataHost {
  readonly nodeId: string;
  readonly service: DataService;
  readonly router: DataRouter;

  /**
   * What this host adds to every handler's context: `ctx.data`, with each configured
   * collection also reachable by name (the router defines those properties).
   */
  contextExtensions(): Partial<ContextExtensions> {
    return { data: this.router as DataRouter & DataCollections };
  }
  readonly maps: ShardMapCache;
  readonly shards: ShardHost;
  readonly #options: DataHostOptions;
  readonly #logger: Logger;
  readonly #fences: FenceTable;
  readonly #registration: Membership;
  readonly #rebalancer?: Rebalancer;
  #caller?: DataCaller;
  #markReady!: () => void;
  readonly #ready: Promise<void>;
  #registered = false;
  #stopped = false;

  constructor(options: DataHostOptions) {
    this.#options = options;
    this.nodeId = options.nodeId;
    this.#logger = (options.logger ?? silentLogger).child({ component: 'data' });
    this.#ready = new Promise((resolve) => (this.#markReady = resolve));
    this.maps = new ShardMapCache(options.coordinator, { logger: this.#logger });
    this.#fences = new FenceTable(options.coordinator, this.#logger);
    this.shards = new ShardHost({
      nodeId: options.nodeId,
      specs: options.collections.map((def) => collectionSpec(def)),
      openEngine: options.openEngine ?? sqliteEngines(options.dir, options.nodeId),
      maps: this.maps,
      fences: this.#fences,
      ready: this.#ready,
      logger: this.#logger,
    });
    // Bound late: the broker that carries calls is built with this host's service in it.
    const caller: DataCaller = {
      call: (service, version, action, params, callOptions) => {
        if (!this.#caller) return Promise.reject(new ShoalError('UNAVAILABLE', 'the data store is not started yet', { sent: false }));
        return this.#caller.call(service, version, action, params, callOptions);
      },
    };
    this.router = new DataRouter({ caller, maps: this.maps, collections: options.collections, logger: this.#logger });
    const ops = new ShardOps(this.shards, this.#fences, this.maps);
    const admin = new DataAdmin({ router: this.router, maps: this.maps, coordinator: options.coordinator, caller });
    this.service = dataService(ops, admin);
    this.#registration = new Membership(options.coordinator, { prefix: DATA_NODES_PREFIX, logger: this.#logger });
    if (options.rebalancer !== false) {
      this.#rebalancer = new Rebalancer({ ...(options.rebalancer ?? {}), nodeId: options.nodeId, coordinator: options.coordinator, caller, maps: this.maps, logger: this.#logger });
    }
  }

  /** Starts serving: loads the map and the fences of moves in flight (shard operations wait for both), then joins as a data node. */
  async start(caller: DataCaller): Promise<void> {
    this.#caller = caller;
    await this.maps.start();
    const backoff = new Backoff(RETRY_BACKOFF);
    while (!this.#stopped) {
      try {
        await this.#fences.load();
        break;
      } catch (err) {
        // A source must know its fences before it serves a write, so it waits for the coordinator.
        this.#logger.warn({ err: toShoalError(err).message }, 'move records not readable yet; data operations wait');
        await sleep(backoff.next());
      }
    }
    this.#markReady();
    void this.#register();
    this.#rebalancer?.start();
  }

  async #register(): Promise<void> {
    const { zone } = this.#options;
    const record = { id: this.nodeId, role: 'node' as const, pid: process.pid, startedAt: Date.now(), services: [], groups: [...(this.#options.groups ?? [])], draining: false, ...(zone !== undefined ? { zone } : {}) };
    const backoff = new Backoff(RETRY_BACKOFF);
    while (!this.#stopped && !this.#registered) {
      try {
        await this.#registration.join(record, { ttlMs: this.#options.memberTtlMs ?? 2_000 });
        this.#registered = true;
        this.#logger.info({ groups: record.groups }, 'joined as data node');
      } catch {
        await sleep(backoff.next());
      }
    }
  }

  /**
   * Before a planned stop: marks this node draining so the rebalancer moves its slots to the
   * others, and resolves once none is left here (or no other data node could take them).
   */
  async drain(timeoutMs = 120_000): Promise<{ drained: boolean }> {
    if (!this.#registered) return { drained: true };
    await this.#registration.update({ draining: true });
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      const map = await this.maps.refresh().catch(() => this.maps.map);
      const holding = map.shardsLedBy(this.nodeId).some((s) => map.slotsOfShard(s.id).length > 0);
      if (!holding) return { drained: true };
      if (!(await this.#othersCanTakeOver())) {
        this.#logger.warn({}, 'no other data node can take this node\'s slots; stopping without draining');
        return { drained: false };
      }
      await sleep(200);
    }
    this.#logger.warn({ timeoutMs }, 'drain timed out; slots still here');
    return { drained: false };
  }

  async #othersCanTakeOver(): Promise<boolean> {
    const { entries } = await this.#options.coordinator.list(DATA_NODES_PREFIX).catch(() => ({ entries: [] }));
    return entries.some((e) => {
      const v = e.value as { id?: unknown; draining?: unknown } | null;
      return v?.id !== this.nodeId && v?.draining !== true;
    });
  }

  /** Stops leading, leaves the data-node list and closes the shards; call after the broker stopped serving. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#markReady();
    await this.#rebalancer?.stop();
    await this.#registration.leave().catch(() => undefined);
    this.#registration.close();
    this.#fences.close();
    this.maps.close();
    await this.shards.close();
  }
}
