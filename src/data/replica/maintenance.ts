import { silentLogger, toShoalError, type Logger } from '../../core/index.ts';
import type { ShardMapCache } from '../map/map-cache.ts';
import { preferredLeaderOf } from '../map/shard-map.ts';
import type { ShardHost } from '../node/shard-host.ts';
import { nextReplicaChange } from './reconcile.ts';

const RECONCILE_EVERY_MS = 300;
/** A leadership hand-over that did not happen is not tried again for this long. */
const TRANSFER_COOLDOWN_MS = 5_000;
const COMPACT_EVERY_MS = 5_000;
const COMPACTION = { keep: 1_000, every: 10_000, maxRetained: 200_000 };

/**
 * The node's housekeeping of its replicas: opens and closes them as the map changes, has each
 * group it leads step toward the replica set the map asks for, and keeps the logs short.
 */
export class ReplicaMaintenance {
  readonly #host: ShardHost;
  readonly #maps: ShardMapCache;
  readonly #logger: Logger;
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #lastTransfer = new Map<number, number>();
  #unsubscribe?: () => void;
  #syncing: Promise<void> = Promise.resolve();

  constructor(host: ShardHost, maps: ShardMapCache, logger: Logger = silentLogger) {
    this.#host = host;
    this.#maps = maps;
    this.#logger = logger;
  }

  start(): void {
    this.#unsubscribe = this.#maps.onChange(() => this.#sync());
    this.#sync();
    this.#timers.push(setInterval(() => this.#reconcile(), RECONCILE_EVERY_MS));
    // Also re-syncs: a founder that could not ask its peers yet opens its replica on a later round.
    this.#timers.push(setInterval(() => this.#sync(), 2_000));
    this.#timers.push(setInterval(() => void this.#compact(), COMPACT_EVERY_MS));
    for (const timer of this.#timers) timer.unref();
  }

  #sync(): void {
    this.#syncing = this.#syncing.then(() => this.#host.sync(this.#maps.map)).catch((err: unknown) => this.#logger.warn({ err: toShoalError(err).message }, 'replica sync failed'));
  }

  #reconcile(): void {
    const map = this.#maps.map;
    for (const group of this.#host.groups()) {
      if (!group.isLeader) continue;
      const record = map.shard(group.shard);
      if (!record) continue;
      const preferred = preferredLeaderOf(record);
      const change = nextReplicaChange(group.status, record.replicas, { electionTicks: this.#host.timing.electionTicks, ...(preferred !== undefined ? { preferred } : {}) });
      if (!change) continue;
      try {
        if (change.kind === 'transfer') {
          if (Date.now() - (this.#lastTransfer.get(group.shard) ?? 0) < TRANSFER_COOLDOWN_MS) continue;
          this.#lastTransfer.set(group.shard, Date.now());
          group.transferLeadership(change.to);
        } else {
          group.changeConfig(change.config);
        }
        this.#logger.info({ shard: group.shard, change: change.reason }, 'replica set change');
      } catch (err) {
        // An earlier change still in flight, or leadership just lost: the next round looks again.
        this.#logger.debug({ shard: group.shard, err: toShoalError(err).message }, 'replica set change not made yet');
      }
    }
  }

  async #compact(): Promise<void> {
    for (const group of this.#host.groups()) {
      await group.compact(COMPACTION).catch((err: unknown) => this.#logger.warn({ shard: group.shard, err: toShoalError(err).message }, 'log compaction failed'));
    }
  }

  async stop(): Promise<void> {
    this.#unsubscribe?.();
    for (const timer of this.#timers) clearInterval(timer);
    await this.#syncing;
  }
}
