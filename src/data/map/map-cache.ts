import type { Coordinator, Watch } from '../../control/index.ts';
import { silentLogger, toShoalError, type Logger } from '../../core/index.ts';
import { MAP_KEY } from './keys.ts';
import { ShardMap, parseShardMap } from './shard-map.ts';

/**
 * The latest shard map, kept current by a watch on its key. A watch can lag, so callers that
 * learn of a newer version (a redirect names it) ask refresh() to read it now.
 */
export class ShardMapCache {
  private readonly coordinator: Coordinator;
  private readonly logger: Logger;
  private current: ShardMap = ShardMap.empty();
  private watch?: Watch;
  private inflight?: Promise<ShardMap>;
  private readonly listeners = new Set<(map: ShardMap) => void>();

  constructor(coordinator: Coordinator, options: { logger?: Logger } = {}) {
    this.coordinator = coordinator;
    this.logger = (options.logger ?? silentLogger).child({ component: 'shard-map' });
  }

  /** Reads the map once and keeps it current; resolves even when the coordinator is unreachable (map stays empty until it answers). */
  async start(): Promise<void> {
    this.watch ??= this.coordinator.watch(MAP_KEY, (event) => {
      if (event.type === 'put' && event.entry.key === MAP_KEY) this.offer(parseShardMap(event.entry.value, event.entry.version));
      else if (event.type === 'reset') void this.refresh().catch(() => undefined);
    });
    await this.refresh().catch((err: unknown) => this.logger.warn({ err: toShoalError(err).message }, 'shard map not readable yet'));
  }

  get map(): ShardMap {
    return this.current;
  }

  get version(): number {
    return this.current.version;
  }

  /** Reads the map from the coordinator now; concurrent callers share one read. */
  refresh(): Promise<ShardMap> {
    this.inflight ??= (async () => {
      try {
        const entry = await this.coordinator.get(MAP_KEY);
        if (entry) this.offer(parseShardMap(entry.value, entry.version));
        return this.current;
      } finally {
        this.inflight = undefined;
      }
    })();
    return this.inflight;
  }

  /** Resolves with a map at least this new, reading it if the watch has not brought it yet. */
  async atLeast(version: number): Promise<ShardMap> {
    if (this.current.version >= version) return this.current;
    const map = await this.refresh();
    return map;
  }

  /** Called with every newer map. */
  onChange(listener: (map: ShardMap) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Takes a map read elsewhere (e.g. after a CAS write) if it is newer. */
  offer(map: ShardMap): void {
    if (map.version <= this.current.version) return;
    this.current = map;
    for (const listener of this.listeners) {
      try {
        listener(map);
      } catch (err) {
        this.logger.error({ err: String(err) }, 'shard map listener threw');
      }
    }
  }

  close(): void {
    this.watch?.close();
    this.watch = undefined;
    this.listeners.clear();
  }
}
