/**
 * The one place a process picks its drivers: which coordinator and which transport reach the
 * cluster. Role processes take the drivers (`clusterDrivers`); everything that talks to a
 * cluster from outside (`createDataClient`, scripts, benchmarks) takes a `connect()`ion. A
 * second driver (etcd, NATS) is chosen here and nowhere else.
 */
import { randomUUID } from 'node:crypto';
import type { Coordinator } from '../control/index.ts';
import { createEmbeddedCoordinator } from '../control/embedded/index.ts';
import { silentLogger, type Logger } from '../core/index.ts';
import { ServiceBroker, type RoutingCaller } from '../runtime/index.ts';
import { FaultPlan, withFaults, type Transport } from '../transport/index.ts';
import { createTcpTransport } from '../transport/tcp/index.ts';

export interface ConnectOptions {
  /** The control plane's URL (e.g. http://127.0.0.1:7450). */
  controlUrl: string;
  /** The cluster secret (the cluster directory's `secret` file). */
  secret: string;
  /** This process's id in the cluster (default `client-<random>`). */
  clientId?: string;
  logger?: Logger;
  /** Limit for one coordinator call in ms (the driver's default when absent). */
  coordinatorTimeoutMs?: number;
  /** Default limit for one service call in ms (default 10 s). */
  callTimeoutMs?: number;
}

/** The drivers a process reaches the cluster through. */
export interface ClusterDrivers {
  readonly nodeId: string;
  readonly coordinator: Coordinator;
  readonly transport: Transport;
  /**
   * The network faults applied to this process's traffic (none unless set): partitions,
   * latency and lost messages, per peer, for chaos runs on a live cluster.
   */
  readonly faults: FaultPlan;
  readonly logger: Logger;
  /** Closes the coordinator and the transport; safe to call more than once. */
  close(): Promise<void>;
}

/** A client's place in a cluster: the coordinator, and a member that calls services and serves none. */
export interface ClusterConnection {
  readonly nodeId: string;
  readonly coordinator: Coordinator;
  /** Calls any service of the cluster (built-in ones included: inside the cluster there is no gateway to pass). */
  readonly caller: RoutingCaller;
  /** Network faults on this client's own traffic (none unless set): a chaos run slows or cuts its links to a node. */
  readonly faults: FaultPlan;
  readonly logger: Logger;
  /** Leaves the cluster and closes the drivers; safe to call more than once. */
  close(): Promise<void>;
}

/** The coordinator alone, for tools that only read or write cluster state (status, rebalance). */
export function connectCoordinator(options: Pick<ConnectOptions, 'controlUrl' | 'secret' | 'logger' | 'coordinatorTimeoutMs'>): Coordinator {
  return createEmbeddedCoordinator({
    url: options.controlUrl,
    secret: options.secret,
    logger: options.logger ?? silentLogger,
    ...(options.coordinatorTimeoutMs !== undefined ? { requestTimeoutMs: options.coordinatorTimeoutMs } : {}),
  });
}

/** Builds the coordinator and transport a process uses, once. Nothing connects until they are used. */
export function clusterDrivers(options: ConnectOptions): ClusterDrivers {
  const logger = options.logger ?? silentLogger;
  const nodeId = options.clientId ?? `client-${randomUUID().slice(0, 8)}`;
  const coordinator = connectCoordinator(options);
  const faults = new FaultPlan();
  // Faults go above the driver, so whichever transport is picked here honours them.
  const transport = withFaults(createTcpTransport({ nodeId, secret: options.secret, logger }), faults);
  let closing: Promise<void> | undefined;
  return {
    nodeId,
    coordinator,
    transport,
    faults,
    logger,
    close() {
      closing ??= Promise.all([transport.close(), coordinator.close()]).then(() => undefined);
      return closing;
    },
  };
}

/**
 * Joins the cluster as a gateway-role member that serves nothing, and resolves once it has
 * joined. Close it when done: the member leaves at once instead of when its lease runs out.
 */
export async function connect(options: ConnectOptions): Promise<ClusterConnection> {
  const drivers = clusterDrivers(options);
  const broker = new ServiceBroker({
    nodeId: drivers.nodeId,
    role: 'gateway',
    transport: drivers.transport,
    coordinator: drivers.coordinator,
    logger: drivers.logger,
    defaultTimeoutMs: options.callTimeoutMs ?? 10_000,
  });
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= broker
      .stop()
      .catch(() => undefined)
      .then(() => drivers.close());
    return closing;
  };
  try {
    await broker.start();
  } catch (err) {
    await close();
    throw err;
  }
  return { nodeId: drivers.nodeId, coordinator: drivers.coordinator, caller: broker, faults: drivers.faults, logger: drivers.logger, close };
}
