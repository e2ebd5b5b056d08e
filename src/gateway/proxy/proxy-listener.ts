import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { HostPort, LimitsConfig } from './config-schema.ts';
import type { ListenerContext } from './listener-context.ts';
import { handleProxyRequest } from './proxy-exchange.ts';
import { ProxyError, rawErrorResponse } from './proxy-errors.ts';
import { handleUpgrade } from './upgrade-proxy.ts';

type ClientSocket = Duplex & { _httpMessage?: ServerResponse | null };

/**
 * A malformed or too slow request never reaches a handler: Node's parser reports it here. The
 * client gets a JSON error naming the problem, and the connection closes.
 */
function onClientError(this: Server, err: NodeJS.ErrnoException, socket: ClientSocket): void {
  if (err.code === 'ECONNRESET' || !socket.writable || socket._httpMessage?.headersSent) {
    socket.destroy();
    return;
  }
  let response: string;
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    response = rawErrorResponse(431, 'Request Header Fields Too Large', new ProxyError(431, 'HEADERS_TOO_LARGE', 'request headers are too large'));
  } else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    response = rawErrorResponse(408, 'Request Timeout', new ProxyError(408, 'REQUEST_TIMEOUT', 'the request was not received in time'));
  } else {
    response = rawErrorResponse(400, 'Bad Request', new ProxyError(400, 'BAD_REQUEST', `malformed request: ${err.code ?? err.message}`));
  }
  socket.end(response);
}

/** Node checks connection timeouts on an interval; a fraction of the header timeout keeps them prompt. */
function checkingInterval(limits: LimitsConfig): number {
  return Math.max(100, Math.min(1000, Math.floor(limits.headersTimeout / 4)));
}

/**
 * One listening address of the balancer: a node:http server with the listener's limits, whose
 * requests go to the backend in its context. Reload replaces the context and limits in place.
 */
export class ProxyListener {
  readonly key: string;
  readonly server: Server;
  context: ListenerContext;
  #address: HostPort;
  #maxHeaderBytes: number;

  constructor(key: string, address: HostPort, limits: LimitsConfig, context: ListenerContext) {
    this.key = key;
    this.#address = address;
    this.context = context;
    this.#maxHeaderBytes = limits.maxHeaderBytes;
    this.server = createServer({
      maxHeaderSize: limits.maxHeaderBytes,
      headersTimeout: limits.headersTimeout,
      requestTimeout: limits.requestTimeout,
      keepAliveTimeout: limits.idleTimeout,
      connectionsCheckingInterval: checkingInterval(limits),
    });
    this.server.on('request', (req: IncomingMessage, res: ServerResponse) => handleProxyRequest(this.context, req, res));
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => handleUpgrade(this.context, req, socket, head));
    this.server.on('clientError', onClientError);
    this.applyLimits(limits);
  }

  /** Limits a running server can take; the header size limit is fixed when the server is made. */
  applyLimits(limits: LimitsConfig): string[] {
    const server = this.server;
    server.headersTimeout = limits.headersTimeout;
    server.requestTimeout = limits.requestTimeout;
    server.keepAliveTimeout = limits.idleTimeout;
    server.maxConnections = limits.maxConnections ?? Infinity;
    return limits.maxHeaderBytes === this.#maxHeaderBytes ? [] : ['maxHeaderBytes'];
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
    this.context.closing = true;
    const server = this.server;
    return new Promise((resolve) => {
      if (!server.listening) {
        resolve();
        return;
      }
      const sweep = setInterval(() => server.closeIdleConnections(), 100);
      const deadline = setTimeout(() => server.closeAllConnections(), timeoutMs);
      deadline.unref();
      server.close(() => {
        clearInterval(sweep);
        clearTimeout(deadline);
        resolve();
      });
      server.closeIdleConnections();
    });
  }
}
