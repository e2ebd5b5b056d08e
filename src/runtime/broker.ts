import type { StrategyFactory } from '../balance/index.ts';
import type { Coordinator } from '../control/index.ts';
import {
  PluginRegistry,
  runLifecycle,
  silentLogger,
  type AnyService,
  type CallMeta,
  type ContextExtensions,
  type KeyValueStore,
  type CallReceipt,
  type Logger,
  type NodeInfo,
  type Plugin,
} from '../core/index.ts';
import type { PeerAddress, Transport } from '../transport/index.ts';
import { CallDispatcher } from './call-dispatcher.ts';
import type { ContextBroker } from './call-context.ts';
import { ContextFactory } from './context-factory.ts';
import { EventBus } from './event-bus.ts';
import type { BrokerHealth, CallByNameOptions, GatewayBroker } from './facade.ts';
import { InboundServer } from './inbound-server.ts';
import { coordinatorKeyValue } from './kv.ts';
import { LocalServices } from './local-services.ts';
import { Presence } from './presence.ts';
import { ServiceRegistry } from './registry.ts';
import { RequestIds } from './request-ids.ts';
import { StrategyCache } from './strategy-cache.ts';

/** A plugin for the runtime may also bring balancing strategies, usable by name. */
export interface RuntimePlugin extends Plugin {
  strategies?: Record<string, StrategyFactory>;
}

export interface ServiceBrokerOptions {
  nodeId: string;
  role?: 'node' | 'gateway';
  transport: Transport;
  coordinator: Coordinator;
  /** Where this process accepts calls from peers; omit for a process that only calls (a gateway). */
  listen?: PeerAddress;
  services?: readonly AnyService[];
  /** Registered in order; a plugin's dependencies must come before it, and names are unique. */
  plugins?: readonly RuntimePlugin[];
  /** Strategy for services that name none. */
  defaultStrategy?: string;
  /**
   * Strategy per route, overriding what the service declares: keys are `service@version` or
   * `service` (a gateway may balance one API differently from the nodes' own calls).
   */
  balancing?: Readonly<Record<string, string>>;
  defaultTimeoutMs?: number;
  /** Serve a call in-process when this node hosts the service (no network hop). */
  preferLocal?: boolean;
  logger?: Logger;
  /** Published in the member record for status and dashboards. */
  httpUrl?: string;
  /** This process's zone, published in its member record. */
  zone?: string;
  /** Membership lease: a dead process leaves routing within about this long. */
  memberTtlMs?: number;
  /** Time a stopping node waits for calls it is serving to finish. */
  drainTimeoutMs?: number;
  /** Time a stopping node keeps accepting calls after announcing its drain (default 500 ms). */
  drainLingerMs?: number;
  /** Fields higher layers add to every handler's context (e.g. `{ data: dataHost.router }`). */
  contextExtensions?: Partial<ContextExtensions>;
}

export type BrokerState = 'created' | 'running' | 'draining' | 'stopped';

/**
 * The runtime of one process: hosts its services, answers calls from peers, and sends calls
 * and events to the services of others. This class only composes and sequences its parts —
 * Presence (membership), CallDispatcher (outbound calls), InboundServer (serving) and EventBus —
 * and never names a transport or coordinator driver: both arrive built.
 */
export class ServiceBroker implements GatewayBroker, ContextBroker {
  readonly nodeId: string;
  readonly logger: Logger;
  readonly registry: ServiceRegistry;
  /** The application's key-value store, shared by every node. */
  readonly kv: KeyValueStore;
  readonly #options: ServiceBrokerOptions;
  readonly #local: LocalServices;
  readonly #plugins: readonly RuntimePlugin[];
  readonly #requestIds: RequestIds;
  readonly #contexts: ContextFactory;
  readonly #presence: Presence;
  readonly #dispatcher: CallDispatcher;
  readonly #inbound: InboundServer;
  readonly #events: EventBus;
  #address?: PeerAddress;
  #state: BrokerState = 'created';

  constructor(options: ServiceBrokerOptions) {
    this.#options = options;
    this.nodeId = options.nodeId;
    this.logger = (options.logger ?? silentLogger).child({ nodeId: options.nodeId });
    this.#local = new LocalServices(options.services ?? []);
    this.#plugins = new PluginRegistry(options.plugins ?? []).list();
    this.registry = new ServiceRegistry(options.nodeId);
    this.kv = coordinatorKeyValue(options.coordinator);
    this.#requestIds = new RequestIds(options.nodeId);
    this.#contexts = new ContextFactory(options.nodeId, { broker: this, logger: this.logger, kv: this.kv }, this.#requestIds, options.contextExtensions);
    const strategies = new StrategyCache({
      factories: Object.assign({}, ...this.#plugins.map((p) => p.strategies ?? {})) as Record<string, StrategyFactory>,
      ...(options.defaultStrategy !== undefined ? { defaultStrategy: options.defaultStrategy } : {}),
      ...(options.balancing !== undefined ? { balancing: options.balancing } : {}),
    });
    this.#presence = new Presence({
      nodeId: options.nodeId,
      role: options.role ?? 'node',
      coordinator: options.coordinator,
      registry: this.registry,
      local: this.#local,
      logger: this.logger,
      ...(options.memberTtlMs !== undefined ? { memberTtlMs: options.memberTtlMs } : {}),
      ...(options.httpUrl !== undefined ? { httpUrl: options.httpUrl } : {}),
      ...(options.zone !== undefined ? { zone: options.zone } : {}),
    });
    this.#inbound = new InboundServer(options.nodeId, this.#local, this.#contexts, this.#plugins);
    this.#dispatcher = new CallDispatcher({
      nodeId: options.nodeId,
      registry: this.registry,
      transport: options.transport,
      plugins: this.#plugins,
      strategies,
      requestIds: this.#requestIds,
      serveLocal: this.#inbound.chain,
      ...(options.defaultTimeoutMs !== undefined ? { defaultTimeoutMs: options.defaultTimeoutMs } : {}),
      ...(options.preferLocal !== undefined ? { preferLocal: options.preferLocal } : {}),
    });
    this.#events = new EventBus({
      registry: this.registry,
      transport: options.transport,
      local: this.#local,
      contexts: this.#contexts,
      strategies,
      plugins: this.#plugins,
      logger: this.logger,
      ...(options.preferLocal !== undefined ? { preferLocal: options.preferLocal } : {}),
    });
  }

  get services(): readonly AnyService[] {
    return this.#local.all();
  }

  get listenAddress(): PeerAddress | undefined {
    return this.#address;
  }

  /** Calls this process is serving right now. */
  get inflight(): number {
    return this.#inbound.inflight;
  }

  get #info(): NodeInfo {
    return { nodeId: this.nodeId, services: this.#local.all() };
  }

  async start(): Promise<void> {
    await runLifecycle(this.#plugins, 'nodeStarting', this.#info);
    const { transport } = this.#options;
    transport.onRequest((payload, from) => this.#inbound.onPeerRequest(payload, from.nodeId));
    transport.onNotify((payload) => this.#events.onPeerNotify(payload));
    transport.onPeerDown((peer) => this.registry.markAddressDown(peer));
    if (this.#options.listen) this.#address = await transport.listen(this.#options.listen);
    for (const service of this.#local.all()) {
      await service.started?.(this.#contexts.create(service.name, service.version, undefined, this.#contexts.freshMeta()));
      for (const plugin of this.#plugins) await plugin.serviceStarted?.(service, this.#info);
    }
    this.#state = 'running';
    await this.#presence.join(this.#address);
    await runLifecycle(this.#plugins, 'nodeStarted', this.#info);
  }

  /**
   * Leaves routing first (peers stop sending), lets calls in progress finish, then stops the
   * services and closes the transport.
   */
  async stop(): Promise<void> {
    if (this.#state === 'stopped' || this.#state === 'draining') return;
    this.#state = 'draining';
    await this.#presence.announceDrain();
    // Peers learn of the drain through their membership watch; until they have, they may still
    // send calls here, so keep serving for a moment before waiting out the calls in flight.
    if (this.#options.listen) await new Promise((r) => setTimeout(r, this.#options.drainLingerMs ?? 500));
    await this.#inbound.drain(Date.now() + (this.#options.drainTimeoutMs ?? 10_000));
    await runLifecycle(this.#plugins, 'nodeStopping', this.#info).catch(() => undefined);
    for (const service of this.#local.all()) {
      await Promise.resolve(service.stopped?.(this.#contexts.create(service.name, service.version, undefined, this.#contexts.freshMeta()))).catch(
        (err: unknown) => this.logger.warn({ service: service.name, err: String(err) }, 'service stop hook failed'),
      );
    }
    await this.#presence.leave();
    await this.#options.transport.close();
    this.#inbound.close();
    this.#state = 'stopped';
  }

  health(): BrokerHealth {
    return this.#state === 'created' ? 'starting' : this.#state === 'running' ? 'healthy' : this.#state;
  }

  /** Calls `service.action` of a version; the way gateways and typed contexts reach services. */
  call(service: string, version: number, action: string, params: unknown, options?: CallByNameOptions): Promise<unknown> {
    return this.#dispatcher.call(service, version, action, params, options);
  }

  /** Like call(), also telling which node answered. */
  callWithOrigin(
    service: string,
    version: number,
    action: string,
    params: unknown,
    options?: CallByNameOptions,
    receipt?: CallReceipt,
  ): Promise<{ result: unknown; servedBy: string | undefined }> {
    return this.#dispatcher.callWithOrigin(service, version, action, params, options, receipt);
  }

  /** Publishes an event from outside any handler. */
  emit(event: string, payload: unknown, mode: 'emit' | 'broadcast' = 'emit', meta?: CallMeta): Promise<void> {
    return this.#events.emit(event, payload, mode, meta ?? this.#contexts.freshMeta());
  }

  /** A request id unique in the cluster, for calls and events that start here. */
  newRequestId(): string {
    return this.#requestIds.next();
  }
}
