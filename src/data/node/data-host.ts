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
import { sqliteStore, type ShardStore } from './engines.ts';
import { FenceTable } from './fence-table.ts';
import { ShardHost } from './shard-host.ts';
import { ShardOps } from './shard-ops.ts';
import { ReplicaOps } from './replica-ops.ts';
import { CopyReceiver } from '../replica/copy-receiver.ts';
import { ReplicaLinks } from '../replica/replica-links.ts';
import { ReplicaMaintenance } from '../replica/maintenance.ts';
import { DEFAULT_REPLICA_TIMING, type ReplicaTiming } from '../replica/timing.ts';

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
  store?: ShardStore;
  /** Consensus clock of the shard replicas (default: 100 ms ticks, elections after 1 to 2 s). */
  timing?: Partial<ReplicaTiming>;
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
  readonly #store: ShardStore;
  readonly #copies: CopyReceiver;
  readonly #maintenance: ReplicaMaintenance;
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
    this.#store = options.store ?? sqliteStore(options.dir, options.nodeId);
    this.shards = new ShardHost({
      nodeId: options.nodeId,
      specs: options.collections.map((def) => collectionSpec(def)),
      store: this.#store,
      maps: this.maps,
      fences: this.#fences,
      ready: this.#ready,
      timing: { ...DEFAULT_REPLICA_TIMING, ...options.timing },
      logger: this.#logger,
    });
    this.#copies = new CopyReceiver(this.shards, this.#store);
    this.#maintenance = new ReplicaMaintenance(this.shards, this.maps, this.#logger);
    // Bound late: the broker that carries calls is built with this host's service in it.
    const caller: DataCaller = {
      call: (service, version, action, params, callOptions) => {
        if (!this.#caller) return Promise.reject(new ShoalError('UNAVAILABLE', 'the data store is not started yet', { sent: false }));
        return this.#caller.call(service, version, action, params, callOptions);
      },
    };
    this.router = new DataRouter({ caller, maps: this.maps, collections: options.collections, logger: this.#logger, nodeId: options.nodeId });
    const ops = new ShardOps(this.shards, this.#fences, this.maps);
    const timing = { ...DEFAULT_REPLICA_TIMING, ...options.timing };
    const admin = new DataAdmin({ router: this.router, maps: this.maps, coordinator: options.coordinator, caller, electionMs: timing.tickMs * timing.electionTicks });
    this.service = dataService(ops, admin, new ReplicaOps(this.shards, this.#store, this.#copies));
    this.#registration = new Membership(options.coordinator, { prefix: DATA_NODES_PREFIX, logger: this.#logger });
    if (options.rebalancer !== false) {
      this.#rebalancer = new Rebalancer({ ...(options.rebalancer ?? {}), nodeId: options.nodeId, coordinator: options.coordinator, caller, maps: this.maps, logger: this.#logger });
    }
  }

  /** Starts serving: loads the map and the fences of moves in flight (shard operations wait for both), then joins as a data node. */
  async start(caller: DataCaller): Promise<void> {
    this.#caller = caller;
    this.shards.attach(new ReplicaLinks({ nodeId: this.nodeId, caller, store: this.#store, logger: this.#logger }));
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
    this.#maintenance.start();
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
   * Before a planned stop: marks this node draining so the rebalancer moves its replicas to the
   * others, and resolves once it holds none with slots and no group counts it any more (or no
   * other data node could take them): a node that stops while a group still counts it as a
   * voter leaves that group a voter short, and the next node removed could take its majority.
   */
  async drain(timeoutMs = 120_000): Promise<{ drained: boolean }> {
    if (!this.#registered) return { drained: true };
    await this.#registration.update({ draining: true });
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      const map = await this.maps.refresh().catch(() => this.maps.map);
      const holding = Object.values(map.data.shards).some((s) => s.replicas.includes(this.nodeId) && map.slotsOfShard(s.id).length > 0);
      if (!holding && this.shards.groups().length === 0) return { drained: true };
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
    await this.#maintenance.stop();
    this.#fences.close();
    this.maps.close();
    await this.shards.close();
    await this.#copies.close();
  }
}
