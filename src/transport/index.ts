/**
 * Transport: how processes of one cluster send each other requests and one-way messages.
 *
 * The rule: nothing above this interface knows which driver runs or touches a socket.
 * The runtime is handed a Transport at the process entry point (tcp by default).
 *
 * Errors a caller sees are ShoalErrors:
 * - UNAVAILABLE when the peer cannot be reached or the connection dropped; `details.sent`
 *   tells whether the request had been written (if false it surely did not run remotely).
 * - TIMEOUT when no answer came within `timeoutMs`.
 * - whatever the remote handler threw, rebuilt from its { code, message, details }.
 */
export interface PeerAddress {
  host: string;
  port: number;
}

export interface RequestOptions {
  /** Time to wait for the answer before failing with TIMEOUT. */
  timeoutMs: number;
}

/** Who sent an inbound message, as far as the transport knows (authenticated node id). */
export interface PeerInfo {
  nodeId: string;
  remoteAddress: string;
}

export type RequestHandler = (payload: unknown, from: PeerInfo) => Promise<unknown>;
export type NotifyHandler = (payload: unknown, from: PeerInfo) => void;

export interface TransportStats {
  /** Open authenticated connections, in and out. */
  connections: number;
  /** Outbound requests awaiting an answer. */
  inflight: number;
  /** Connections closed for a bad frame, an oversized frame or a failed handshake. */
  rejected: number;
}

export interface Transport {
  /** Starts accepting peers on the address (port 0 picks one); resolves with the bound address. */
  listen(address: PeerAddress): Promise<PeerAddress>;
  /** Sets the function that answers requests; a throw reaches the caller as its ShoalError. */
  onRequest(handler: RequestHandler): void;
  /** Sets the function that receives one-way messages. */
  onNotify(handler: NotifyHandler): void;
  /** Called when an established connection to a peer is lost (not for a refused connect). */
  onPeerDown(listener: (peer: PeerAddress) => void): void;
  /** Sends a request and resolves with the peer's answer. Many may be in flight on one connection. */
  request(peer: PeerAddress, payload: unknown, options: RequestOptions): Promise<unknown>;
  /** Sends a one-way message; resolves once written (waits while the socket is congested). */
  notify(peer: PeerAddress, payload: unknown): Promise<void>;
  stats(): TransportStats;
  /** Stops accepting, closes every connection, fails requests still in flight with UNAVAILABLE. */
  close(): Promise<void>;
}

export function addressKey(address: PeerAddress): string {
  return `${address.host}:${address.port}`;
}

export function parseAddress(text: string): PeerAddress {
  const at = text.lastIndexOf(':');
  const port = Number(text.slice(at + 1));
  if (at <= 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`not a host:port address: ${text}`);
  }
  return { host: text.slice(0, at).replace(/^\[|\]$/g, ''), port };
}
