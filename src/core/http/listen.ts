import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface BoundAddress {
  host: string;
  port: number;
  /** e.g. http://127.0.0.1:7450 (IPv6 hosts in brackets). */
  url: string;
}

/**
 * Starts a server listening and resolves with where it is bound. A port in use is named with
 * what wanted it, so a user knows which flag to change.
 */
export function listenHttp(server: Server, port: number, host: string, what: string): Promise<BoundAddress> {
  return new Promise((resolve, reject) => {
    const fail = (err: NodeJS.ErrnoException) => {
      reject(err.code === 'EADDRINUSE' ? new Error(`port ${port} (${what}) on ${host} is already in use: choose another --port`, { cause: err }) : err);
    };
    server.once('error', fail);
    server.listen(port, host, () => {
      server.off('error', fail);
      const bound = (server.address() as AddressInfo).port;
      const urlHost = host.includes(':') ? `[${host}]` : host;
      resolve({ host, port: bound, url: `http://${urlHost}:${bound}` });
    });
  });
}

/** Stops accepting and resolves once the server is closed; idle keep-alive sockets (scrapers, agents) go at once. */
export function closeHttp(server: Server, options: { dropActive?: boolean } = {}): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    if (options.dropActive) server.closeAllConnections();
    else server.closeIdleConnections();
  });
}
