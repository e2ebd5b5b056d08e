import { createStrategy, type Strategy, type StrategyFactory } from '../balance/index.ts';
import { Membership, type Coordinator, type MemberRecord, type Watch } from '../control/index.ts';
import {
  ShoalError,
  collectInterceptors,
  composeChain,
  runLifecycle,
  serviceKey,
  silentLogger,
  toShoalError,
  wallClockMs,
  type AnyService,
  type CallMeta,
  type ContextExtensions,
  type EventMessage,
  type InboundCall,
  type KeyValueStore,
  type Logger,
  type Next,
  type NodeInfo,
  type OutboundAttempt,
  type OutboundCall,
  type Plugin,
} from '../core/index.ts';
import type { PeerAddress, Transport } from '../transport/index.ts';
import { CallContext, contextClassWith, type ContextShared } from './call-context.ts';
import { coordinatorKeyValue } from './kv.ts';
import { LocalServices } from './local-services.ts';
import { ServiceRegistry, type ServiceEndpoint } from './registry.ts';
import { RequestIds } from './request-ids.ts';
import { encodeCallFrame, parseCallFrame, parseEventFrame, type EventFrame } from './wire.ts';

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
  /** Membership lease: a dead process leaves routing within about this long. */
  memberTtlMs?: number;
  /** Time a stopping node waits for calls it is serving to finish. */
  drainTimeoutMs?: number;
  /** Time a stopping node keeps accepting calls after announcing its drain (default 500 ms). */
  drainLingerMs?: number;
  /** Fields higher layers add to every handler's context (e.g. `{ data: dataHost.router }`). */
  contextExtensions?: Partial<ContextExtensions>;
}

export interface CallByNameOptions {
  timeoutMs?: number;
  balanceKey?: string;
  /** Send to this node only (it holds the data the call is about); no balancing, no failover. */
  node?: string;
  meta?: Partial<CallMeta>;
}

/** The options of a call made without any, shared rather than made per call. */
const noOptions: CallByNameOptions = Object.freeze({});

/**
 * The runtime of one process: hosts its services, answers calls from peers, and sends calls
 * and events to the services of others through the hook chains, the balancer and the transport.
 * It never names a transport or coordinator driver: both arrive built.
 */
export class ServiceBroker {
  readonly nodeId: string;
  readonly logger: Logger;
  readonly registry: ServiceRegistry;
  /** The application's key-value store, shared by every node. */
  readonly kv: KeyValueStore;
  private readonly options: ServiceBrokerOptions;
  private readonly local: LocalServices;
  private readonly plugins: readonly RuntimePlugin[];
  private readonly strategyFactories: Record<string, StrategyFactory>;
  /** Plugins that can veto an endpoint, found once rather than per call. */
  private readonly endpointFilters: readonly RuntimePlugin[];
  private readonly requestIds: RequestIds;
  private readonly contextClass: typeof CallContext;
  private readonly contextShared: ContextShared;
  private readonly strategies = new Map<string, Strategy>();
  private readonly callStrategies = new Map<string, Map<number, Strategy>>();
  private readonly seenServices = new Set<string>();
  private readonly outbound: Next<OutboundCall, unknown>;
  private readonly attempt: Next<OutboundAttempt, unknown>;
  private readonly inbound: Next<InboundCall, unknown>;
  private readonly outboundEvent: Next<EventMessage, void>;
  private readonly inboundEvent: Next<EventMessage, void>;
  /** Watches the member list; joining uses its own instance so a failed join can start over. */
  private readonly membersView: Membership;
  private membership: Membership;
  private membersWatch?: Watch;
  private address?: PeerAddress;
  private readonly startedAt = Date.now();
  private inflightInbound = 0;
  private state: 'created' | 'running' | 'draining' | 'stopped' = 'created';

  constructor(options: ServiceBrokerOptions) {
    this.options = options;
    this.nodeId = options.nodeId;
    this.logger = (options.logger ?? silentLogger).child({ nodeId: options.nodeId });
    this.local = new LocalServices(options.services ?? []);
    this.plugins = options.plugins ?? [];
    this.registry = new ServiceRegistry(options.nodeId);
    this.membersView = new Membership(options.coordinator, { logger: this.logger });
    this.membership = new Membership(options.coordinator, { logger: this.logger });
    this.kv = coordinatorKeyValue(options.coordinator);
    this.strategyFactories = Object.assign({}, ...this.plugins.map((p) => p.strategies ?? {}));
    this.endpointFilters = this.plugins.filter((p) => p.endpointAvailable);
    this.requestIds = new RequestIds(options.nodeId);
    this.contextClass = contextClassWith(options.contextExtensions);
    this.contextShared = { broker: this, logger: this.logger, kv: this.kv };
    this.outbound = composeChain(collectInterceptors(this.plugins, 'outboundCall'), (call) => this.dispatch(call));
    this.attempt = composeChain(collectInterceptors(this.plugins, 'outboundAttempt'), (attempt) => this.send(attempt));
    this.inbound = composeChain(collectInterceptors(this.plugins, 'inboundCall'), (call) => this.serve(call));
    this.outboundEvent = composeChain(collectInterceptors(this.plugins, 'outboundEvent'), (event) => this.publish(event));
    this.inboundEvent = composeChain(collectInterceptors(this.plugins, 'inboundEvent'), (event) => this.consume(event));
  }

  get services(): readonly AnyService[] {
    return this.local.all();
  }

  get listenAddress(): PeerAddress | undefined {
    return this.address;
  }

  get inflight(): number {
    return this.inflightInbound;
  }

  private get info(): NodeInfo {
    return { nodeId: this.nodeId, services: this.local.all() };
  }

  async start(): Promise<void> {
    await runLifecycle(this.plugins, 'nodeStarting', this.info);
    const { transport } = this.options;
    transport.onRequest((payload, from) => this.onPeerRequest(payload, from.nodeId));
    transport.onNotify((payload) => this.onPeerNotify(payload));
    transport.onPeerDown((peer) => this.registry.markAddressDown(peer));
    if (this.options.listen) this.address = await transport.listen(this.options.listen);
    for (const service of this.local.all()) {
      await service.started?.(this.contextFor(service.name, service.version, undefined, this.freshMeta()));
      for (const plugin of this.plugins) await plugin.serviceStarted?.(service, this.info);
    }
    this.registry.onChange(() => {
      for (const descriptor of this.registry.descriptors()) this.seenServices.add(serviceKey(descriptor.name, descriptor.version));
    });
    this.membersWatch = this.membersView.watchMembers((members) => this.registry.setMembers(this.withSelf(members)));
    this.registry.setMembers([this.record()]);
    this.state = 'running';
    try {
      await this.membership.join(this.record(), { ttlMs: this.options.memberTtlMs ?? 2_000 });
    } catch (err) {
      // The control plane may be down (restarting): serve anyway and register once it is back.
      this.logger.warn({ err: toShoalError(err).message }, 'could not register with the control plane yet; retrying');
      void this.joinInBackground();
    }
    await runLifecycle(this.plugins, 'nodeStarted', this.info);
  }

  /**
   * Leaves routing first (peers stop sending), lets calls in progress finish, then stops the
   * services and closes the transport.
   */
  async stop(): Promise<void> {
    if (this.state === 'stopped' || this.state === 'draining') return;
    this.state = 'draining';
    await this.membership.update({ health: 'draining' }).catch(() => undefined);
    // Peers learn of the drain through their membership watch; until they have, they may still
    // send calls here, so keep serving for a moment before waiting out the calls in flight.
    if (this.options.listen) await new Promise((r) => setTimeout(r, this.options.drainLingerMs ?? 500));
    const until = Date.now() + (this.options.drainTimeoutMs ?? 10_000);
    while (this.inflightInbound > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    await runLifecycle(this.plugins, 'nodeStopping', this.info).catch(() => undefined);
    for (const service of this.local.all()) {
      await Promise.resolve(service.stopped?.(this.contextFor(service.name, service.version, undefined, this.freshMeta()))).catch(
        (err: unknown) => this.logger.warn({ service: service.name, err: String(err) }, 'service stop hook failed'),
      );
    }
    this.membersWatch?.close();
    this.membersView.close();
    await this.membership.leave().catch(() => undefined);
    await this.options.transport.close();
    this.state = 'stopped';
  }

  private async joinInBackground(): Promise<void> {
    for (let delayMs = 200; this.state === 'running'; delayMs = Math.min(delayMs * 2, 2_000)) {
      await new Promise((r) => setTimeout(r, delayMs));
      this.membership.close();
      this.membership = new Membership(this.options.coordinator, { logger: this.logger });
      try {
        await this.membership.join(this.record(), { ttlMs: this.options.memberTtlMs ?? 2_000 });
        this.logger.info({}, 'registered with the control plane');
        return;
      } catch {
        // Still unreachable; the loop backs off.
      }
    }
  }

  health(): 'starting' | 'healthy' | 'draining' | 'stopped' {
    return this.state === 'created' ? 'starting' : this.state === 'running' ? 'healthy' : this.state;
  }

  /** Calls `service.action` of a version; the way gateways and typed contexts reach services. */
  call(service: string, version: number, action: string, params: unknown, options: CallByNameOptions = noOptions): Promise<unknown> {
    // Not async: the chain's promise is handed back as it is, without another layer per call.
    try {
      return this.outbound(this.outboundCall(service, version, action, params, options));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Like call(), also telling which node answered. */
  async callWithOrigin(
    service: string,
    version: number,
    action: string,
    params: unknown,
    options: CallByNameOptions = noOptions,
  ): Promise<{ result: unknown; servedBy: string | undefined }> {
    const call = this.outboundCall(service, version, action, params, options);
    const result = await this.outbound(call);
    return { result, servedBy: call.servedBy };
  }

  private outboundCall(service: string, version: number, action: string, params: unknown, options: CallByNameOptions): OutboundCall {
    const endpoints = this.registry.endpoints(service, version);
    const descriptor = endpoints[0]?.descriptor;
    if (!descriptor) throw this.missingService(service, version);
    const declared = descriptor.actions.find((a) => a.name === action);
    if (!declared) {
      throw new ShoalError('NOT_FOUND', `action ${service}.${action} does not exist in version ${version}`, {
        actions: descriptor.actions.map((a) => a.name),
      });
    }
    const given = options.meta;
    const meta: CallMeta = { requestId: given?.requestId ?? this.requestIds.next(), callerNodeId: this.nodeId };
    if (given) {
      if (given.traceparent) meta.traceparent = given.traceparent;
      if (given.tracestate) meta.tracestate = given.tracestate;
      if (given.deadline !== undefined) meta.deadline = given.deadline;
    }
    const balanceKeyField = descriptor.balanceKey;
    const balanceKey =
      options.balanceKey ??
      (balanceKeyField && params && typeof params === 'object' ? stringOrUndefined((params as Record<string, unknown>)[balanceKeyField]) : undefined);
    const call: OutboundCall = {
      service,
      version,
      action,
      params,
      meta,
      idempotent: declared.idempotent,
      timeoutMs: options.timeoutMs ?? declared.timeoutMs ?? this.options.defaultTimeoutMs ?? 10_000,
      attempts: 0,
    };
    if (balanceKey !== undefined) call.balanceKey = balanceKey;
    if (options.node !== undefined) call.targetNode = options.node;
    return call;
  }

  /** Publishes an event from outside any handler. */
  emit(event: string, payload: unknown, mode: 'emit' | 'broadcast' = 'emit', meta?: CallMeta): Promise<void> {
    return this.outboundEvent({ event, payload, mode, meta: meta ?? this.freshMeta() });
  }

  private missingService(service: string, version: number): ShoalError {
    if (this.seenServices.has(serviceKey(service, version))) {
      return new ShoalError('UNAVAILABLE', `no live node serves ${service}@${version} right now`, { sent: false });
    }
    const versions = this.registry.versionsOf(service);
    if (versions.length > 0) {
      return new ShoalError('NOT_FOUND', `service ${service} has no version ${version}`, { versions });
    }
    return new ShoalError('NOT_FOUND', `unknown service ${service}`);
  }

  /**
   * End of the outbound chain: choose an endpoint and make one attempt. Not async: the attempt's
   * promise gets one .then() rather than an async frame and its own promise.
   */
  private dispatch(call: OutboundCall): Promise<unknown> {
    try {
      return this.dispatchOrThrow(call);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private dispatchOrThrow(call: OutboundCall): Promise<unknown> {
    const all = this.registry.endpoints(call.service, call.version);
    if (all.length === 0) throw this.missingService(call.service, call.version);
    const endpoints = this.available(all, call);
    if (endpoints.length === 0) {
      throw new ShoalError('UNAVAILABLE', `every node serving ${serviceKey(call.service, call.version)} is refusing calls (circuits open)`, { sent: false });
    }
    const exclude = call.exclude;
    let chosen: ServiceEndpoint | undefined;
    if (call.targetNode !== undefined) {
      chosen = endpoints.find((e) => e.id === call.targetNode && !exclude?.has(e.id));
      if (!chosen) {
        throw new ShoalError('UNAVAILABLE', `node ${call.targetNode} does not serve ${serviceKey(call.service, call.version)} right now`, {
          sent: false,
          exhausted: true,
          node: call.targetNode,
        });
      }
    }
    if (!chosen && this.options.preferLocal !== false) chosen = localEndpoint(endpoints, exclude);
    const strategy = this.callStrategy(call, endpoints);
    // Most calls have neither a key nor endpoints to avoid: they build no pick context.
    const key = call.balanceKey;
    const context = exclude !== undefined ? { key, exclude } : key !== undefined ? { key } : undefined;
    chosen ??= strategy.pick(endpoints, context) as ServiceEndpoint | undefined;
    if (!chosen) {
      throw new ShoalError('UNAVAILABLE', `no node left to try for ${serviceKey(call.service, call.version)} (tried ${[...(exclude ?? [])].join(', ')})`, {
        sent: false,
        exhausted: true,
      });
    }
    const id = chosen.id;
    call.attempts++;
    // Only strategies that weigh latency or load need the clock.
    const started = strategy.onEnd === undefined ? 0 : performance.now();
    strategy.onStart?.(id);
    let pending: Promise<unknown>;
    try {
      pending = this.attempt({ call, endpointId: id, local: chosen.local });
    } catch (err) {
      pending = Promise.reject(err);
    }
    return pending.then(
      (result) => {
        strategy.onEnd?.(id, { latencyMs: performance.now() - started, ok: true });
        call.servedBy = id;
        return result;
      },
      (err: unknown) => {
        strategy.onEnd?.(id, { latencyMs: performance.now() - started, ok: false });
        // Made on the first failure: most calls succeed at once and never need the set.
        (call.exclude ??= new Set()).add(id);
        throw err;
      },
    );
  }

  /** The strategy of a call's route, found without building its key once it exists. */
  private callStrategy(call: OutboundCall, endpoints: readonly ServiceEndpoint[]): Strategy {
    let versions = this.callStrategies.get(call.service);
    const found = versions?.get(call.version);
    if (found) return found;
    const key = serviceKey(call.service, call.version);
    const overrides = this.options.balancing;
    const strategy = this.strategyFor(key, overrides?.[key] ?? overrides?.[call.service] ?? endpoints[0].descriptor.balancing);
    if (!versions) this.callStrategies.set(call.service, (versions = new Map()));
    versions.set(call.version, strategy);
    return strategy;
  }

  private available(endpoints: readonly ServiceEndpoint[], call: OutboundCall): readonly ServiceEndpoint[] {
    if (this.endpointFilters.length === 0) return endpoints;
    // Usually every endpoint is available: then the registry's list serves as it is, uncopied.
    let i = 0;
    while (i < endpoints.length && this.isAvailable(endpoints[i], call)) i++;
    if (i === endpoints.length) return endpoints;
    return endpoints.filter((e) => this.isAvailable(e, call));
  }

  private isAvailable(endpoint: ServiceEndpoint, call: OutboundCall): boolean {
    for (const plugin of this.endpointFilters) if (!plugin.endpointAvailable!(endpoint.id, call)) return false;
    return true;
  }

  private strategyFor(key: string, name: string | undefined): Strategy {
    let strategy = this.strategies.get(key);
    if (!strategy) {
      strategy = createStrategy(name ?? this.options.defaultStrategy ?? 'round-robin', this.strategyFactories);
      this.strategies.set(key, strategy);
    }
    return strategy;
  }

  /** End of the attempt chain: in-process, or over the transport. Not async, to spare a promise per call. */
  private send(attempt: OutboundAttempt): Promise<unknown> {
    try {
      return this.sendOrThrow(attempt);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private sendOrThrow(attempt: OutboundAttempt): Promise<unknown> {
    const { call } = attempt;
    const remainingMs = call.meta.deadline === undefined ? call.timeoutMs : call.meta.deadline - wallClockMs();
    if (remainingMs <= 0) throw new ShoalError('TIMEOUT', `deadline passed before calling ${call.service}.${call.action}`);
    if (attempt.local) {
      return withTimeout(
        this.inbound({ service: call.service, version: call.version, action: call.action, params: call.params, meta: call.meta, fromNodeId: this.nodeId }),
        remainingMs,
        `${call.service}.${call.action}`,
      );
    }
    const endpoint = endpointById(this.registry.endpoints(call.service, call.version), attempt.endpointId);
    if (!endpoint?.address) throw new ShoalError('UNAVAILABLE', `node ${attempt.endpointId} left`, { sent: false });
    return this.options.transport.request(endpoint.address, encodeCallFrame(call), { timeoutMs: remainingMs });
  }

  private onPeerRequest(payload: unknown, fromNodeId: string): Promise<unknown> {
    try {
      const call = parseCallFrame(payload, fromNodeId);
      if (this.state === 'stopped') throw new ShoalError('UNAVAILABLE', `node ${this.nodeId} is stopped`, { sent: false });
      return this.inbound(call);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * End of the inbound chain: validate and run the handler. Not async: a handler that answers
   * synchronously costs no extra promise turn, and one that returns a promise gets one shared
   * pair of callbacks rather than an async frame per call.
   */
  private serve(call: InboundCall): Promise<unknown> {
    this.inflightInbound++;
    let result: unknown;
    try {
      const ctx = this.contextFor(call.service, call.version, call.action, call.meta);
      result = this.local.invoke(call.service, call.version, call.action, call.params, ctx);
    } catch (err) {
      this.inflightInbound--;
      return Promise.reject(err);
    }
    if (isThenable(result)) return Promise.resolve(result).then(this.servedValue, this.servedError);
    this.inflightInbound--;
    return Promise.resolve(result);
  }

  private readonly servedValue = (value: unknown): unknown => {
    this.inflightInbound--;
    return value;
  };

  private readonly servedError = (err: unknown): never => {
    this.inflightInbound--;
    throw err;
  };

  /** End of the outbound event chain: emit to one instance per subscribing service, broadcast to all. */
  private async publish(message: EventMessage): Promise<void> {
    const deliveries: Array<Promise<void>> = [];
    for (const group of this.registry.subscribersOf(message.event)) {
      const key = `event:${message.event}:${serviceKey(group.service, group.version)}`;
      let targets: ServiceEndpoint[];
      if (message.mode === 'broadcast') targets = group.endpoints;
      else {
        const local = this.options.preferLocal !== false ? group.endpoints.find((e) => e.local) : undefined;
        const picked = local ?? (this.strategyFor(key, 'round-robin').pick(group.endpoints) as ServiceEndpoint | undefined);
        targets = picked ? [picked] : [];
      }
      for (const target of targets) deliveries.push(this.deliver(message, group.service, group.version, target));
    }
    await Promise.all(deliveries);
  }

  private async deliver(message: EventMessage, service: string, version: number, target: ServiceEndpoint): Promise<void> {
    try {
      if (target.local) {
        await this.inboundEvent({ ...message, target: { service, version } });
      } else if (target.address) {
        const frame: EventFrame = { k: 'event', e: message.event, p: message.payload, m: message.meta, mode: message.mode, s: service, v: version };
        await this.options.transport.notify(target.address, frame);
      }
    } catch (err) {
      this.logger.warn({ event: message.event, to: target.id, err: toShoalError(err).message }, 'event delivery failed');
    }
  }

  private onPeerNotify(payload: unknown): void {
    const frame = parseEventFrame(payload);
    if (!frame) {
      this.logger.warn({}, 'malformed event frame dropped');
      return;
    }
    this.inboundEvent({ event: frame.e, payload: frame.p, meta: frame.m, mode: frame.mode, target: { service: frame.s, version: frame.v } }).catch(
      (err: unknown) => this.logger.warn({ event: frame.e, err: toShoalError(err).message }, 'event handler failed'),
    );
  }

  /** End of the inbound event chain. */
  private async consume(message: EventMessage): Promise<void> {
    const target = message.target;
    if (!target || !this.local.has(target.service, target.version)) return;
    const ctx = this.contextFor(target.service, target.version, undefined, message.meta);
    await this.local.deliver(target.service, target.version, message.event, message.payload, ctx, this.logger);
  }

  private contextFor(service: string, version: number, action: string | undefined, meta: CallMeta): CallContext {
    return new this.contextClass(this.contextShared, service, version, action, meta);
  }

  private freshMeta(): CallMeta {
    return { requestId: this.requestIds.next(), callerNodeId: this.nodeId };
  }

  /** A request id unique in the cluster, for calls and events that start here. */
  newRequestId(): string {
    return this.requestIds.next();
  }

  private record(): MemberRecord {
    return {
      id: this.nodeId,
      role: this.options.role ?? 'node',
      ...(this.address ? { address: this.address } : {}),
      ...(this.options.httpUrl ? { httpUrl: this.options.httpUrl } : {}),
      pid: process.pid,
      startedAt: this.startedAt,
      services: this.local.descriptors(),
      health: this.state === 'draining' ? 'draining' : 'healthy',
    };
  }

  /** This process routes to its own services even before (or while unable) to register them. */
  private withSelf(members: readonly MemberRecord[]): MemberRecord[] {
    if (members.some((m) => m.id === this.nodeId)) return [...members];
    return [...members, this.record()];
  }
}

/** This node's own endpoint unless already tried; a loop, since it runs on every call. */
function localEndpoint(endpoints: readonly ServiceEndpoint[], exclude: ReadonlySet<string> | undefined): ServiceEndpoint | undefined {
  for (const endpoint of endpoints) if (endpoint.local && (exclude === undefined || !exclude.has(endpoint.id))) return endpoint;
  return undefined;
}

function endpointById(endpoints: readonly ServiceEndpoint[], id: string): ServiceEndpoint | undefined {
  for (const endpoint of endpoints) if (endpoint.id === id) return endpoint;
  return undefined;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as PromiseLike<unknown>).then === 'function';
}

function stringOrUndefined(value: unknown): string | undefined {
  return typeof value === 'string' || typeof value === 'number' ? String(value) : undefined;
}

function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ShoalError('TIMEOUT', `${what} took longer than ${Math.round(ms)} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
