/**
 * The embedded driver's client: the Coordinator interface over the server's HTTP API.
 * While the server is unreachable calls fail fast with UNAVAILABLE, a probe with backoff
 * notices when it answers again, and watches resume on their own.
 */
import { Backoff, silentLogger, type Logger } from '../../core/index.ts';
import type {
  Coordinator,
  CoordinatorState,
  DeleteOptions,
  KvEntry,
  Lease,
  PutOptions,
  Watch,
  WatchEvent,
} from '../index.ts';
import { ClientWatch } from './client-watch.ts';
import { HttpCaller } from './http-caller.ts';
import type { DeleteResponse, GetResponse, LeaseResponse, ListResponse, PutResponse } from './protocol.ts';

export interface EmbeddedCoordinatorOptions {
  /** The server's base URL, e.g. http://127.0.0.1:4100. */
  url: string;
  secret: string;
  logger?: Logger;
  /** Limit for one call (default 5 s); a call that takes longer fails with UNAVAILABLE. */
  requestTimeoutMs?: number;
}

const PROBE_BACKOFF = { initialMs: 100, maxMs: 2000 };
/** Server holds a long-poll up to 25 s; the client waits a little longer before giving up on it. */
const WATCH_POLL_TIMEOUT_MS = 35_000;

class EmbeddedCoordinator implements Coordinator {
  private readonly caller: HttpCaller;
  private readonly logger: Logger;
  private readonly watches = new Set<ClientWatch>();
  private probeTimer: NodeJS.Timeout | undefined;
  private readonly probeBackoff = new Backoff(PROBE_BACKOFF);
  private closed = false;

  constructor(options: EmbeddedCoordinatorOptions) {
    this.logger = (options.logger ?? silentLogger).child({ component: 'coordinator-client' });
    this.caller = new HttpCaller({
      url: options.url,
      secret: options.secret,
      logger: this.logger,
      requestTimeoutMs: options.requestTimeoutMs ?? 5000,
    });
    this.caller.onStateChange((state) => {
      if (state === 'disconnected') {
        this.probeBackoff.reset();
        this.scheduleProbe(this.probeBackoff.next());
      }
    });
    // The first probe tells whether the server is there before anyone calls.
    this.scheduleProbe(0);
  }

  async get(key: string): Promise<KvEntry | undefined> {
    const answer = await this.caller.call<GetResponse>('POST', '/v1/kv/get', { key });
    return answer.entry ?? undefined;
  }

  async put(key: string, value: unknown, options: PutOptions = {}): Promise<KvEntry> {
    const answer = await this.caller.call<PutResponse>('POST', '/v1/kv/put', {
      key,
      value: value === undefined ? null : value,
      expectVersion: options.expectVersion,
      lease: options.lease,
    });
    return answer.entry;
  }

  async delete(key: string, options: DeleteOptions = {}): Promise<boolean> {
    const answer = await this.caller.call<DeleteResponse>('POST', '/v1/kv/delete', { key, expectVersion: options.expectVersion });
    return answer.deleted;
  }

  async list(prefix: string): Promise<{ entries: KvEntry[]; revision: number }> {
    const answer = await this.caller.call<ListResponse>('POST', '/v1/kv/list', { prefix });
    return { entries: answer.entries, revision: answer.revision };
  }

  /**
   * Without afterRevision, "now" is the latest revision this client has seen: a watch opened
   * after this client's own put does not see that put, and sees any change made after it.
   */
  watch(prefix: string, listener: (event: WatchEvent) => void, options: { afterRevision?: number } = {}): Watch {
    const watch = new ClientWatch({
      caller: this.caller,
      prefix,
      listener,
      logger: this.logger,
      afterRevision: options.afterRevision ?? this.caller.knownRevision,
      pollTimeoutMs: WATCH_POLL_TIMEOUT_MS,
    });
    if (this.closed) watch.close();
    else this.watches.add(watch);
    return {
      close: () => {
        watch.close();
        this.watches.delete(watch);
      },
    };
  }

  async grantLease(ttlMs: number): Promise<Lease> {
    return (await this.caller.call<LeaseResponse>('POST', '/v1/lease/grant', { ttlMs })).lease;
  }

  async keepAlive(leaseId: string): Promise<Lease> {
    return (await this.caller.call<LeaseResponse>('POST', '/v1/lease/keepalive', { id: leaseId })).lease;
  }

  async revokeLease(leaseId: string): Promise<void> {
    await this.caller.call('POST', '/v1/lease/revoke', { id: leaseId });
  }

  state(): CoordinatorState {
    return this.caller.state();
  }

  onStateChange(listener: (state: CoordinatorState) => void): void {
    this.caller.onStateChange(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.probeTimer);
    for (const watch of this.watches) watch.close();
    this.watches.clear();
    this.caller.close();
  }

  /** Polls /v1/status with backoff until the server answers, so state() recovers without traffic. */
  private scheduleProbe(delayMs: number): void {
    if (this.closed || this.probeTimer) return;
    this.probeTimer = setTimeout(() => {
      this.probeTimer = undefined;
      this.caller.call('GET', '/v1/status').then(
        () => this.probeBackoff.reset(),
        () => this.scheduleProbe(this.probeBackoff.next()),
      );
    }, delayMs);
    this.probeTimer.unref();
  }
}

export function createEmbeddedCoordinator(options: EmbeddedCoordinatorOptions): Coordinator {
  return new EmbeddedCoordinator(options);
}
