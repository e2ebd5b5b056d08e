import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Coordinator } from '../../src/control/index.ts';
import { createEmbeddedCoordinator, startCoordinatorServer } from '../../src/control/embedded/index.ts';
import type { AnyService, ContextExtensions } from '../../src/core/index.ts';
import { circuitBreakerPlugin, retryPlugin, ServiceBroker, timeoutPlugin, type RuntimePlugin } from '../../src/runtime/index.ts';
import { createTcpTransport } from '../../src/transport/tcp/index.ts';
import { eventually } from './eventually.ts';
import type { Transport } from '../../src/transport/index.ts';

export const testSecret = 'test-cluster-secret';

/** A coordinator server in a temp dir plus brokers on loopback, all in this process. */
export class RuntimeHarness {
  readonly dir = mkdtempSync(join(tmpdir(), 'shoal-runtime-'));
  private server?: Awaited<ReturnType<typeof startCoordinatorServer>>;
  private readonly brokers: ServiceBroker[] = [];
  private readonly coordinators: Coordinator[] = [];
  private readonly transports = new Map<string, Transport>();

  async start(): Promise<void> {
    this.server = await startCoordinatorServer({ dataDir: this.dir, host: '127.0.0.1', port: 0, secret: testSecret });
  }

  get controlUrl(): string {
    if (!this.server) throw new Error('harness not started');
    return this.server.url;
  }

  coordinator(): Coordinator {
    const coordinator = createEmbeddedCoordinator({ url: this.controlUrl, secret: testSecret });
    this.coordinators.push(coordinator);
    return coordinator;
  }

  async broker(
    nodeId: string,
    services: AnyService[],
    options: { listen?: boolean; plugins?: RuntimePlugin[]; preferLocal?: boolean; role?: 'node' | 'gateway'; balancing?: Record<string, string>; contextExtensions?: Partial<ContextExtensions> } = {},
  ): Promise<ServiceBroker> {
    const transport = createTcpTransport({ nodeId, secret: testSecret });
    this.transports.set(nodeId, transport);
    const broker = new ServiceBroker({
      nodeId,
      role: options.role ?? 'node',
      transport,
      coordinator: this.coordinator(),
      ...(options.listen === false ? {} : { listen: { host: '127.0.0.1', port: 0 } }),
      services,
      plugins: options.plugins ?? [timeoutPlugin(), retryPlugin(), circuitBreakerPlugin()],
      preferLocal: options.preferLocal ?? false,
      ...(options.balancing ? { balancing: options.balancing } : {}),
      ...(options.contextExtensions ? { contextExtensions: options.contextExtensions } : {}),
      memberTtlMs: 1_000,
      drainTimeoutMs: 2_000,
    });
    await broker.start();
    this.brokers.push(broker);
    return broker;
  }

  /** Closes a broker's transport without leaving membership: what a crash looks like to peers. */
  async crash(nodeId: string): Promise<void> {
    const transport = this.transports.get(nodeId);
    if (!transport) throw new Error(`no broker ${nodeId} in this harness`);
    await transport.close();
  }

  /** Resolves once `broker` sees `count` endpoints for the service. */
  async waitForEndpoints(broker: ServiceBroker, service: string, version: number, count: number, timeoutMs = 10_000): Promise<void> {
    // A wrong count is thrown, so a timeout quotes the last count seen.
    await eventually(
      () => {
        const seen = broker.registry.endpoints(service, version).length;
        if (seen !== count) throw new Error(`${broker.nodeId} sees ${seen}`);
        return true;
      },
      { message: `${broker.nodeId} to see ${count} endpoints of ${service}@${version}`, timeoutMs },
    );
  }

  async stop(): Promise<void> {
    for (const broker of this.brokers.reverse()) await broker.stop().catch(() => undefined);
    for (const coordinator of this.coordinators) await coordinator.close().catch(() => undefined);
    await this.server?.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
