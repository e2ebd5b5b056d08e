/**
 * The one place a process outside the role entry points picks its drivers: which coordinator
 * and which transport reach the cluster. Everything that talks to a cluster from outside
 * (`createDataClient`, the CLI, benchmarks, scripts) takes what this returns, so a second
 * driver (etcd, NATS) is chosen here and nowhere else.
 */
import { randomUUID } from 'node:crypto';
import type { Coordinator } from '../control/index.ts';
import { createEmbeddedCoordinator } from '../control/embedded/index.ts';
import { silentLogger, type Logger } from '../core/index.ts';
import type { Transport } from '../transport/index.ts';
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
}

/** The drivers a client process reaches the cluster through. */
export interface ClusterConnection {
  readonly nodeId: string;
  readonly coordinator: Coordinator;
  readonly transport: Transport;
  readonly logger: Logger;
  /** Closes the coordinator and the transport; safe to call more than once. */
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

/** Builds the coordinator and transport a client uses, once. Nothing connects until they are used. */
export function connect(options: ConnectOptions): ClusterConnection {
  const logger = options.logger ?? silentLogger;
  const nodeId = options.clientId ?? `client-${randomUUID().slice(0, 8)}`;
  const coordinator = connectCoordinator(options);
  const transport = createTcpTransport({ nodeId, secret: options.secret, logger });
  let closing: Promise<void> | undefined;
  return {
    nodeId,
    coordinator,
    transport,
    logger,
    close() {
      closing ??= Promise.all([transport.close(), coordinator.close()]).then(() => undefined);
      return closing;
    },
  };
}
