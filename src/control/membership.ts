/**
 * Membership: which processes are in the cluster, built only on the Coordinator interface so
 * it runs on any driver. A member's record lives at `members/<id>` bound to a lease it keeps
 * alive; when the process dies the lease expires and the record disappears for every watcher.
 *
 * Control-plane outages must not stop the data plane: while the coordinator is unreachable a
 * member keeps renewing (and re-joins if its lease was lost meanwhile), and watchers keep
 * the last list they knew instead of clearing it.
 */
import { ShoalError, toShoalError, silentLogger, Backoff, type Logger } from '../core/index.ts';
import type { Coordinator, KvEntry, Lease, Watch, WatchEvent } from './index.ts';

export interface ActionDescriptor {
  name: string;
  idempotent: boolean;
  rest?: { method: string; path: string };
  timeoutMs?: number;
  description?: string;
  /** JSON Schema of the params, for OpenAPI and for typing query strings at the gateway. */
  paramsSchema?: unknown;
}

export interface ServiceDescriptor {
  name: string;
  version: number;
  actions: ActionDescriptor[];
  events: string[];
  /** Balancing strategy callers use for this service. */
  balancing?: string;
  /** Params field used as the hash key by sticky strategies. */
  balanceKey?: string;
}

export interface MemberRecord {
  id: string;
  role: 'node' | 'gateway' | 'control';
  /** Transport address other members reach it at. */
  address?: { host: string; port: number };
  httpUrl?: string;
  pid: number;
  startedAt: number;
  services: ServiceDescriptor[];
  health?: string;
  /** The failure domain the process runs in (`shoal up --zones`), when the cluster has zones. */
  zone?: string;
  [extra: string]: unknown;
}

export interface JoinOptions {
  /** How long the record outlives its process (default 2000 ms). */
  ttlMs?: number;
  /** Renewal period (default ttlMs / 4, so three renewals may fail before expiry). */
  keepAliveMs?: number;
}

export interface MembershipOptions {
  /** Key prefix of member records (default `members/`). */
  prefix?: string;
  logger?: Logger;
}

const RELIST_BACKOFF = { initialMs: 100, maxMs: 2000 };

function isMemberRecord(value: unknown): value is MemberRecord {
  return value !== null && typeof value === 'object' && typeof (value as { id?: unknown }).id === 'string';
}

export class Membership {
  private readonly coordinator: Coordinator;
  private readonly prefix: string;
  private readonly logger: Logger;
  private record: MemberRecord | undefined;
  private lease: Lease | undefined;
  private ttlMs = 2000;
  private timer: NodeJS.Timeout | undefined;
  /** The record changed locally but could not be written yet; the next renewal writes it. */
  private dirty = false;
  /** Serializes renewals, updates and leave so they never interleave on one lease. */
  private queue: Promise<unknown> = Promise.resolve();
  private readonly watchers = new Set<{ close(): void }>();
  private stopped = false;

  constructor(coordinator: Coordinator, options: MembershipOptions = {}) {
    this.coordinator = coordinator;
    this.prefix = options.prefix ?? 'members/';
    this.logger = (options.logger ?? silentLogger).child({ component: 'membership' });
  }

  /** The lease currently holding this member's record (its fencing token changes on re-join). */
  currentLease(): Lease | undefined {
    return this.lease;
  }

  /** Registers the member and keeps its record alive until leave() or close(). Rejects if the coordinator cannot be reached now. */
  async join(member: MemberRecord, options: JoinOptions = {}): Promise<void> {
    if (this.record) throw new ShoalError('CONFLICT', `this Membership already joined as ${this.record.id}`);
    this.stopped = false;
    this.record = { ...member };
    this.ttlMs = options.ttlMs ?? 2000;
    const keepAliveMs = options.keepAliveMs ?? Math.max(1, Math.floor(this.ttlMs / 4));
    await this.serialized(() => this.register());
    const tick = () => {
      this.timer = setTimeout(() => {
        void this.serialized(() => this.renew()).finally(() => {
          if (!this.stopped) tick();
        });
      }, keepAliveMs);
    };
    tick();
  }

  /** Merges partial into the record and rewrites it. If the write fails it is retried on the next renewal. */
  async update(partial: Partial<MemberRecord>): Promise<void> {
    if (!this.record) throw new ShoalError('BAD_REQUEST', 'update() before join()');
    this.record = { ...this.record, ...partial, id: this.record.id };
    this.dirty = true;
    await this.serialized(async () => {
      if (!this.lease) return this.register();
      try {
        await this.write();
      } catch (err) {
        if (toShoalError(err).code !== 'NOT_FOUND') throw err;
        await this.register();
      }
    });
  }

  /** Stops renewing and removes the record now (revoking the lease). */
  async leave(): Promise<void> {
    this.stopRenewing();
    await this.serialized(async () => {
      const lease = this.lease;
      this.lease = undefined;
      this.record = undefined;
      if (!lease) return;
      try {
        await this.coordinator.revokeLease(lease.id);
      } catch (err) {
        // The lease ends by itself within its ttl, so leaving still completes.
        const error = toShoalError(err);
        if (error.code !== 'NOT_FOUND') this.logger.warn({ err: error }, 'could not revoke membership lease; it will expire');
      }
    });
  }

  /**
   * Stops renewing and watching without removing the record: to others this member looks
   * like a crashed process, gone once its lease expires.
   */
  close(): void {
    this.stopRenewing();
    for (const watcher of this.watchers) watcher.close();
    this.watchers.clear();
  }

  /** Calls listener with the members now and after every change, sorted by id. */
  watchMembers(listener: (members: MemberRecord[]) => void): Watch {
    const members = new Map<string, MemberRecord>();
    /** Events at or below the revision of the last list are already in it. */
    let listedAt = -1;
    let listing = false;
    /** A reset came while a list was in flight; that list may predate it, so list once more. */
    let listAgain = false;
    let buffered: WatchEvent[] = [];
    let watch: Watch | undefined;
    let retryTimer: NodeJS.Timeout | undefined;
    let closed = false;

    const emit = () => {
      if (closed) return;
      try {
        listener([...members.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)));
      } catch (err) {
        this.logger.error({ err }, 'members listener threw');
      }
    };
    const applyEntry = (entry: KvEntry) => {
      if (isMemberRecord(entry.value)) members.set(entry.key, entry.value);
      else this.logger.warn({ key: entry.key }, 'ignoring malformed member record');
    };
    const apply = (event: WatchEvent): boolean => {
      if (event.type === 'reset' || event.revision <= listedAt) return false;
      if (event.type === 'put') applyEntry(event.entry);
      else if (!members.delete(event.key)) return false;
      return true;
    };
    const relistBackoff = new Backoff(RELIST_BACKOFF);
    const relist = async (): Promise<void> => {
      if (closed) return;
      listing = true;
      try {
        const { entries, revision } = await this.coordinator.list(this.prefix);
        if (closed) return;
        if (listAgain) {
          listAgain = false;
          buffered = [];
          void relist();
          return;
        }
        members.clear();
        for (const entry of entries) applyEntry(entry);
        listedAt = revision;
        relistBackoff.reset();
        listing = false;
        // Changes that arrived while listing and are newer than the list still count.
        const pending = buffered;
        buffered = [];
        for (const event of pending) apply(event);
        emit();
        watch ??= this.coordinator.watch(this.prefix, onEvent, { afterRevision: revision });
      } catch (err) {
        if (closed) return;
        // Unreachable: keep the last known list and try again.
        this.logger.debug({ err }, 'listing members failed; retrying');
        retryTimer = setTimeout(() => void relist(), relistBackoff.next());
      }
    };
    const onEvent = (event: WatchEvent) => {
      if (event.type === 'reset') {
        buffered = [];
        if (listing) listAgain = true;
        else void relist();
        return;
      }
      if (listing) buffered.push(event);
      else if (apply(event)) emit();
    };

    void relist();
    const handle = {
      close: () => {
        closed = true;
        clearTimeout(retryTimer);
        watch?.close();
        this.watchers.delete(handle);
      },
    };
    this.watchers.add(handle);
    return handle;
  }

  private stopRenewing(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => {});
    return run;
  }

  /** Takes a fresh lease and writes the record bound to it. */
  private async register(): Promise<void> {
    if (!this.record) return;
    const lease = await this.coordinator.grantLease(this.ttlMs);
    this.lease = lease;
    await this.write();
    this.logger.info({ id: this.record.id, fencingToken: lease.fencingToken }, 'member registered');
  }

  private async write(): Promise<void> {
    if (!this.record || !this.lease) return;
    this.dirty = false;
    try {
      await this.coordinator.put(this.prefix + this.record.id, this.record, { lease: this.lease.id });
    } catch (err) {
      this.dirty = true;
      throw err;
    }
  }

  private async renew(): Promise<void> {
    if (this.stopped || !this.record) return;
    try {
      if (!this.lease) {
        await this.register();
        return;
      }
      this.lease = await this.coordinator.keepAlive(this.lease.id);
      if (this.dirty) await this.write();
    } catch (err) {
      const error = toShoalError(err);
      if (error.code === 'NOT_FOUND') {
        // The lease ended (e.g. it expired while the coordinator was down): join again.
        this.logger.warn({ id: this.record?.id }, 'membership lease lost; registering again');
        this.lease = undefined;
        try {
          await this.register();
        } catch (again) {
          this.logger.debug({ err: again }, 'registering again failed; will retry');
        }
      } else {
        this.logger.debug({ err: error }, 'membership renewal failed; will retry');
      }
    }
  }
}
