import { Membership, type Coordinator, type MemberRecord, type Watch } from '../control/index.ts';
import { Backoff, toShoalError, type Logger } from '../core/index.ts';
import type { PeerAddress } from '../transport/index.ts';
import type { LocalServices } from './local-services.ts';
import type { ServiceRegistry } from './registry.ts';

export interface PresenceOptions {
  nodeId: string;
  role: 'node' | 'gateway';
  coordinator: Coordinator;
  registry: ServiceRegistry;
  local: LocalServices;
  logger: Logger;
  /** Membership lease: a dead process leaves routing within about this long. */
  memberTtlMs?: number;
  httpUrl?: string;
  /** Published in the member record, for placement and status. */
  zone?: string;
}

/**
 * absent: not announced yet; joining: announced, registration in progress or retrying;
 * joined: registered, the lease kept alive; draining: registered as draining; left: gone.
 */
export type PresenceState = 'absent' | 'joining' | 'joined' | 'draining' | 'left';

/**
 * This process's place in the cluster's member list: registers it under a lease (which
 * Membership keeps alive), registers again after the control plane comes back, marks it draining
 * and leaves. It also feeds the registry from the member list, with this process always in it.
 */
export class Presence {
  readonly #options: PresenceOptions;
  readonly #startedAt = Date.now();
  /** Watches the member list; joining uses its own instance so a failed join can start over. */
  readonly #membersView: Membership;
  #membership: Membership;
  #membersWatch?: Watch;
  #address?: PeerAddress;
  #state: PresenceState = 'absent';

  constructor(options: PresenceOptions) {
    this.#options = options;
    this.#membersView = new Membership(options.coordinator, { logger: options.logger });
    this.#membership = new Membership(options.coordinator, { logger: options.logger });
  }

  get state(): PresenceState {
    return this.#state;
  }

  /**
   * Starts routing by the member list and registers this process. If the control plane is
   * unreachable it keeps trying in the background: the process serves meanwhile.
   */
  async join(address: PeerAddress | undefined): Promise<void> {
    const { registry } = this.#options;
    this.#address = address;
    this.#membersWatch = this.#membersView.watchMembers((members) => registry.setMembers(this.#withSelf(members)));
    registry.setMembers([this.#record()]);
    this.#state = 'joining';
    try {
      await this.#register();
      this.#state = 'joined';
    } catch (err) {
      // The control plane may be down (restarting): serve anyway and register once it is back.
      this.#options.logger.warn({ err: toShoalError(err).message }, 'could not register with the control plane yet; retrying');
      void this.#rejoinInBackground();
    }
  }

  /** Tells peers to stop sending calls here; they learn it through their membership watch. */
  async announceDrain(): Promise<void> {
    this.#state = 'draining';
    await this.#membership.update({ health: 'draining' }).catch(() => undefined);
  }

  /** Stops following the member list and gives up the registration. */
  async leave(): Promise<void> {
    this.#state = 'left';
    this.#membersWatch?.close();
    this.#membersView.close();
    await this.#membership.leave().catch(() => undefined);
  }

  #register(): Promise<void> {
    return this.#membership.join(this.#record(), { ttlMs: this.#options.memberTtlMs ?? 2_000 });
  }

  async #rejoinInBackground(): Promise<void> {
    const backoff = new Backoff({ initialMs: 200, maxMs: 2_000 });
    while (this.#state === 'joining') {
      await new Promise((r) => setTimeout(r, backoff.next()));
      if (this.#state !== 'joining') return;
      this.#membership.close();
      this.#membership = new Membership(this.#options.coordinator, { logger: this.#options.logger });
      try {
        await this.#register();
        this.#state = 'joined';
        this.#options.logger.info({}, 'registered with the control plane');
        return;
      } catch {
        // Still unreachable; the loop backs off.
      }
    }
  }

  #record(): MemberRecord {
    const { nodeId, role, httpUrl, zone, local } = this.#options;
    return {
      id: nodeId,
      role,
      ...(zone !== undefined ? { zone } : {}),
      ...(this.#address ? { address: this.#address } : {}),
      ...(httpUrl ? { httpUrl } : {}),
      pid: process.pid,
      startedAt: this.#startedAt,
      services: local.descriptors(),
      health: this.#state === 'draining' ? 'draining' : 'healthy',
    };
  }

  /** This process routes to its own services even before (or while unable) to register them. */
  #withSelf(members: readonly MemberRecord[]): MemberRecord[] {
    if (members.some((m) => m.id === this.#options.nodeId)) return [...members];
    return [...members, this.#record()];
  }
}
