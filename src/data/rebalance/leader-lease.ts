import { setTimeout as sleep } from 'node:timers/promises';
import type { Coordinator, Lease } from '../../control/index.ts';
import { silentLogger, toShoalError, type Logger } from '../../core/index.ts';
import { REBALANCER_KEY } from '../map/keys.ts';

export interface Leadership {
  token: number;
  /** Aborted when the lease is lost or given up: stop writing at once. */
  signal: AbortSignal;
}

/**
 * One rebalancer leader at a time: the `data/rebalancer` key is created with compare-and-set
 * and bound to a lease, so it disappears with a dead leader. The lease's fencing token goes
 * into every map write, so a leader that lost its lease without noticing cannot overwrite the
 * work of the next one.
 */
export class LeaderLease {
  private readonly coordinator: Coordinator;
  private readonly nodeId: string;
  private readonly ttlMs: number;
  private readonly logger: Logger;
  private lease?: Lease;
  private controller?: AbortController;
  private stopped = false;

  constructor(options: { coordinator: Coordinator; nodeId: string; ttlMs?: number; logger?: Logger }) {
    this.coordinator = options.coordinator;
    this.nodeId = options.nodeId;
    this.ttlMs = options.ttlMs ?? 3_000;
    this.logger = options.logger ?? silentLogger;
  }

  /** Resolves once this process leads; undefined if stopped first. */
  async acquire(): Promise<Leadership | undefined> {
    while (!this.stopped) {
      try {
        const holder = await this.coordinator.get(REBALANCER_KEY);
        if (!holder) {
          const lease = await this.coordinator.grantLease(this.ttlMs);
          try {
            await this.coordinator.put(REBALANCER_KEY, { nodeId: this.nodeId, token: lease.fencingToken, since: Date.now() }, { expectVersion: 0, lease: lease.id });
          } catch (err) {
            await this.coordinator.revokeLease(lease.id).catch(() => undefined);
            throw err;
          }
          this.lease = lease;
          this.controller = new AbortController();
          this.keepAlive(lease, this.controller);
          this.logger.info({ token: lease.fencingToken }, 'became rebalancer leader');
          return { token: lease.fencingToken, signal: this.controller.signal };
        }
      } catch (err) {
        const e = toShoalError(err);
        if (e.code !== 'CONFLICT') this.logger.debug({ err: e.message }, 'rebalancer election attempt failed');
      }
      await sleep(Math.max(200, this.ttlMs / 3));
    }
    return undefined;
  }

  private keepAlive(lease: Lease, controller: AbortController): void {
    void (async () => {
      const period = Math.max(100, this.ttlMs / 3);
      let lastRenewed = Date.now();
      while (!controller.signal.aborted) {
        await sleep(period);
        if (controller.signal.aborted) return;
        try {
          await this.coordinator.keepAlive(lease.id);
          lastRenewed = Date.now();
        } catch (err) {
          const e = toShoalError(err);
          // Unreachable for longer than the ttl, or the lease is gone: another leader may exist now.
          if (e.code === 'NOT_FOUND' || Date.now() - lastRenewed > this.ttlMs) {
            this.logger.warn({ err: e.message }, 'rebalancer lease lost');
            controller.abort();
            this.lease = undefined;
            return;
          }
        }
      }
    })();
  }

  /** Gives leadership up (revoking the lease) so another node takes over at once. */
  async resign(): Promise<void> {
    this.stopped = true;
    this.controller?.abort();
    const lease = this.lease;
    this.lease = undefined;
    if (lease) await this.coordinator.revokeLease(lease.id).catch(() => undefined);
  }
}
