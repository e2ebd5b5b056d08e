import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { ClientConnection, type ConnectionHost } from './client-connection.ts';
import type { HostPort, LimitsConfig } from './config-schema.ts';
import type { ListenerContext } from './listener-context.ts';

/** Timeouts are checked on an interval; a fraction of the header timeout keeps them prompt. */
/** How often connections are checked: a quarter of the shortest timeout it enforces, within 0.1–1 s. */
function checkingInterval(limits: LimitsConfig, answerIdleMs: number): number {
  return Math.max(100, Math.min(1000, Math.floor(Math.min(limits.headersTimeout, answerIdleMs) / 4)));
}

/**
 * One listening address of the balancer: a TCP server whose connections speak HTTP/1.1 to the
 * balancer's own parser (see ClientConnection), sending requests to the backend in its context.
 * Reload replaces the context and limits in place; open connections pick them up.
 */
export class ProxyListener implements ConnectionHost {
  readonly key: string;
  readonly server: Server;
  readonly connections = new Set<ClientConnection>();
  context: ListenerContext;
  limits: LimitsConfig;
  closing = false;
  nowMs = Date.now();
  #address: HostPort;
  #sweeper: NodeJS.Timeout | undefined;
  #interval = 0;

  constructor(key: string, address: HostPort, limits: LimitsConfig, context: ListenerContext) {
    this.key = key;
    this.#address = address;
    this.context = context;
    this.limits = limits;
    // Half-open: a client that finished sending still gets its answer.
    this.server = createServer({ allowHalfOpen: true, noDelay: true }, (socket: Socket) => new ClientConnection(socket, this));
    this.applyLimits(limits);
  }

  /** Limits a running listener takes at once; every one of them can change. */
  applyLimits(limits: LimitsConfig): string[] {
    this.limits = limits;
    this.server.maxConnections = limits.maxConnections ?? Infinity;
    const interval = checkingInterval(limits, this.context.backend.config.timeouts.idle);
    if (interval !== this.#interval) {
      this.#interval = interval;
      clearInterval(this.#sweeper);
      this.#sweeper = setInterval(() => this.#sweep(), interval);
      this.#sweeper.unref();
    }
    return [];
  }

  #sweep(): void {
    const now = Date.now();
    this.nowMs = now;
    for (const connection of this.connections) connection.checkTimeouts(now);
  }

  listen(): Promise<HostPort> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.#address.port, this.#address.host, () => {
        this.server.off('error', reject);
        const actual = this.server.address() as AddressInfo;
        this.#address = { host: this.#address.host, port: actual.port };
        resolve(this.#address);
      });
    });
  }

  get address(): HostPort {
    return this.#address;
  }

  get url(): string {
    const host = this.#address.host.includes(':') ? `[${this.#address.host}]` : this.#address.host;
    return `http://${host}:${this.#address.port}`;
  }

  /**
   * Stops accepting, lets requests in flight finish (their connections close after the
   * response), and after `timeoutMs` closes whatever is left.
   */
  close(timeoutMs: number): Promise<void> {
    this.closing = true;
    this.context.closing = true;
    const server = this.server;
    return new Promise((resolve) => {
      const closeIdle = (): void => {
        for (const connection of this.connections) if (connection.idle) connection.destroy();
      };
      const sweep = setInterval(closeIdle, 100);
      const deadline = setTimeout(() => {
        for (const connection of this.connections) connection.destroy();
      }, timeoutMs);
      deadline.unref();
      const done = (): void => {
        clearInterval(sweep);
        clearTimeout(deadline);
        clearInterval(this.#sweeper);
        resolve();
      };
      if (server.listening) server.close(done);
      else done();
      closeIdle();
    });
  }
}
