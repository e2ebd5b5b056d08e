/**
 * What other layers may rely on of a broker, narrowed to what each needs. The gateway and the
 * data layer take these rather than ServiceBroker, so they can be given a stand-in in tests and
 * never reach the broker's parts (presence, dispatch, serving, events).
 */
import type { MemberRecord, ServiceDescriptor } from '../control/index.ts';
import type { CallMeta, CallReceipt } from '../core/index.ts';
import type { ServiceEndpoint } from './registry.ts';

export interface CallByNameOptions {
  timeoutMs?: number;
  balanceKey?: string;
  /** Send to this node only (it holds the data the call is about); no balancing, no failover. */
  node?: string;
  meta?: Partial<CallMeta>;
}

/** Calls to services by name and version. */
export interface ServiceCaller {
  /** Calls `service.action` of a version through the outbound hook chain and the balancer. */
  call(service: string, version: number, action: string, params: unknown, options?: CallByNameOptions): Promise<unknown>;
}

/** What this process knows of the cluster's services, read-only. */
export interface ServiceCatalog {
  /** Live endpoints of a service version, in a stable order. */
  endpoints(service: string, version: number): readonly ServiceEndpoint[];
  /** One descriptor per service version some live member offers. */
  descriptors(): ServiceDescriptor[];
  /** Members not known to be down. */
  liveMembers(): MemberRecord[];
  /** Called after every change of the member list. */
  onChange(listener: () => void): void;
}

export type BrokerHealth = 'starting' | 'healthy' | 'draining' | 'stopped';

/** A caller that can see the catalog it routes by (a data client waits on it for endpoints). */
export interface RoutingCaller extends ServiceCaller {
  readonly nodeId: string;
  readonly registry: ServiceCatalog;
}

/** What the HTTP gateway needs: calls that tell who answered, the catalog for routes and docs, health. */
export interface GatewayBroker extends RoutingCaller {
  /**
   * Like call(), also telling which node answered. `receipt.servedBy` names the node that
   * answered, also when its answer was an error (not when no node was reached).
   */
  callWithOrigin(
    service: string,
    version: number,
    action: string,
    params: unknown,
    options?: CallByNameOptions,
    receipt?: CallReceipt,
  ): Promise<{ result: unknown; servedBy: string | undefined }>;
  health(): BrokerHealth;
}
