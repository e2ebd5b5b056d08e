import {
  collectInterceptors,
  composeChain,
  serviceKey,
  toShoalError,
  type CallMeta,
  type EventMessage,
  type Logger,
  type Next,
  type Plugin,
} from '../core/index.ts';
import type { Transport } from '../transport/index.ts';
import type { ContextFactory } from './context-factory.ts';
import type { LocalServices } from './local-services.ts';
import type { ServiceEndpoint, ServiceRegistry } from './registry.ts';
import type { StrategyCache } from './strategy-cache.ts';
import { parseEventFrame, type EventFrame } from './wire.ts';

export interface EventBusOptions {
  registry: ServiceRegistry;
  transport: Transport;
  local: LocalServices;
  contexts: ContextFactory;
  strategies: StrategyCache;
  plugins: readonly Plugin[];
  logger: Logger;
  /** Deliver an emit to this node's own instance when it subscribes (default true). */
  preferLocal?: boolean;
}

/**
 * Events between services: an emit reaches one instance of each subscribing service, a
 * broadcast every instance. Delivery is fire-and-forget per target: a failed delivery is logged,
 * never thrown back at the emitter.
 */
export class EventBus {
  readonly #options: EventBusOptions;
  readonly #outbound: Next<EventMessage, void>;
  readonly #inbound: Next<EventMessage, void>;

  constructor(options: EventBusOptions) {
    this.#options = options;
    this.#outbound = composeChain(collectInterceptors(options.plugins, 'outboundEvent'), (event) => this.#publish(event));
    this.#inbound = composeChain(collectInterceptors(options.plugins, 'inboundEvent'), (event) => this.#consume(event));
  }

  emit(event: string, payload: unknown, mode: 'emit' | 'broadcast', meta: CallMeta): Promise<void> {
    return this.#outbound({ event, payload, mode, meta });
  }

  /** An event frame from a peer. */
  onPeerNotify(payload: unknown): void {
    const frame = parseEventFrame(payload);
    if (!frame) {
      this.#options.logger.warn({}, 'malformed event frame dropped');
      return;
    }
    this.#inbound({ event: frame.e, payload: frame.p, meta: frame.m, mode: frame.mode, target: { service: frame.s, version: frame.v } }).catch(
      (err: unknown) => this.#options.logger.warn({ event: frame.e, err: toShoalError(err).message }, 'event handler failed'),
    );
  }

  /** End of the outbound event chain: one target per subscribing service for an emit, all for a broadcast. */
  async #publish(message: EventMessage): Promise<void> {
    const deliveries: Array<Promise<void>> = [];
    for (const group of this.#options.registry.subscribersOf(message.event)) {
      let targets: ServiceEndpoint[];
      if (message.mode === 'broadcast') targets = group.endpoints;
      else {
        const local = this.#options.preferLocal !== false ? group.endpoints.find((e) => e.local) : undefined;
        const key = `event:${message.event}:${serviceKey(group.service, group.version)}`;
        const picked = local ?? (this.#options.strategies.forKey(key, 'round-robin').pick(group.endpoints) as ServiceEndpoint | undefined);
        targets = picked ? [picked] : [];
      }
      for (const target of targets) deliveries.push(this.#deliver(message, group.service, group.version, target));
    }
    await Promise.all(deliveries);
  }

  async #deliver(message: EventMessage, service: string, version: number, target: ServiceEndpoint): Promise<void> {
    try {
      if (target.local) {
        await this.#inbound({ ...message, target: { service, version } });
      } else if (target.address) {
        const frame: EventFrame = { k: 'event', e: message.event, p: message.payload, m: message.meta, mode: message.mode, s: service, v: version };
        await this.#options.transport.notify(target.address, frame);
      }
    } catch (err) {
      this.#options.logger.warn({ event: message.event, to: target.id, err: toShoalError(err).message }, 'event delivery failed');
    }
  }

  /** End of the inbound event chain. */
  async #consume(message: EventMessage): Promise<void> {
    const target = message.target;
    const local = this.#options.local;
    if (!target || !local.has(target.service, target.version)) return;
    const ctx = this.#options.contexts.create(target.service, target.version, undefined, message.meta);
    await local.deliver(target.service, target.version, message.event, message.payload, ctx, this.#options.logger);
  }
}
