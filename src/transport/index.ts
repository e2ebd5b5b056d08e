/**
 * Transport: how processes of one cluster send each other requests and one-way messages.
 *
 * The rule: nothing above this interface knows which driver runs or touches a socket.
 * The runtime is handed a Transport at the process entry point (tcp by default).
 *
 * Callers may assume:
 * - A request reaches the peer's handler at most once, and resolves with the answer to that
 *   request and no other, however many are in flight on one connection.
 * - Every request settles: with the answer, or with a ShoalError no later than its timeout.
 * - One-way messages from one sender to one peer arrive in the order sent, and ahead of any
 *   request sent after them.
 * - Handlers run only for authenticated peers, and PeerInfo.nodeId is the id that peer proved.
 *
 * Errors a caller sees are ShoalErrors:
 * - UNAVAILABLE when the peer cannot be reached, the connection dropped or the transport
 *   closed; `details.sent` tells whether the request had been written (if false it surely did
 *   not run remotely, so it is safe to retry anywhere).
 * - TIMEOUT when no answer came within `timeoutMs`.
 * - UNAUTHORIZED when the peer refused this node's credentials.
 * - PAYLOAD_TOO_LARGE when a payload exceeds the frame bound; nothing was sent.
 * - whatever the remote handler threw, rebuilt from its { code, message, details }.
 *
 * A driver must never:
 * - deliver one request to a handler twice (no resend after a drop: the caller decides, from
 *   `details.sent`, whether a retry is safe), or resolve a request with another's answer;
 * - leave a request pending after close() or after its connection is lost: each fails at once
 *   with UNAVAILABLE carrying `details.sent`;
 * - run a handler for, or count as connected, a peer that has not authenticated; such a peer
 *   is disconnected and counted in `stats().rejected`;
 * - read or send a message over its frame bound: an oversized inbound message closes that
 *   connection (never the process, never the other connections);
 * - let a remote failure escape as anything but a ShoalError.
 */
export interface PeerAddress {
  host: string;
  port: number;
}

export interface RequestOptions {
  /** Time to wait for the answer (connecting included) before failing with TIMEOUT or UNAVAILABLE. */
  timeoutMs: number;
  /**
   * How errors about this request name the peer (e.g. its node id). Default: its address.
   * Errors may reach an outside client, which has no business learning internal addresses.
   */
  peerName?: string;
}

/** Who sent an inbound message, as far as the transport knows (authenticated node id). */
export interface PeerInfo {
  nodeId: string;
  /** The peer's address as the transport sees it, for logs; not an address to send to. */
  remoteAddress: string;
}

/** Answers one request; its result (or ShoalError) goes back to the caller. */
export type RequestHandler = (payload: unknown, from: PeerInfo) => Promise<unknown>;
/** Receives one one-way message; nothing goes back, so a throw is only logged by the transport. */
export type NotifyHandler = (payload: unknown, from: PeerInfo) => void;

export interface TransportStats {
  /** Open authenticated connections, in and out. */
  connections: number;
  /** Outbound requests awaiting an answer (those still waiting for a connection included). */
  inflight: number;
  /** Connections closed for a bad frame, an oversized frame or a failed handshake. */
  rejected: number;
}

export interface Transport {
  // Inbound

  /**
   * Starts accepting peers on the address (port 0 picks one); resolves with the bound address.
   * Rejects if this transport already listens or is closed, or the address cannot be bound.
   */
  listen(address: PeerAddress): Promise<PeerAddress>;
  /**
   * Sets the function that answers requests, replacing any before it. A throw reaches the
   * caller as its ShoalError (a plain Error as INTERNAL). Without a handler, requests fail with
   * UNAVAILABLE and `sent: false`, since nothing ran.
   */
  onRequest(handler: RequestHandler): void;
  /** Sets the function that receives one-way messages, replacing any before it. */
  onNotify(handler: NotifyHandler): void;
  /**
   * Adds a listener called once each time an established connection to a peer is lost (the
   * peer closed, crashed or went silent), not for a connect that was refused or timed out.
   */
  onPeerDown(listener: (peer: PeerAddress) => void): void;

  // Outbound

  /**
   * Sends a request and resolves with the peer's answer. Connects on first use and reconnects
   * after a loss, within the request's timeout. Many may be in flight on one connection, each
   * matched to its own answer; a late answer after TIMEOUT is dropped.
   */
  request(peer: PeerAddress, payload: unknown, options: RequestOptions): Promise<unknown>;
  /**
   * Sends a one-way message; resolves once written (waits while the connection is congested,
   * so a fast sender is slowed rather than buffered without bound). Resolving does not mean the
   * peer handled it.
   */
  notify(peer: PeerAddress, payload: unknown): Promise<void>;

  // Lifecycle

  /** Counters for metrics and tests; cheap enough to read on every scrape. */
  stats(): TransportStats;
  /**
   * Stops accepting, closes every connection and fails requests still in flight with
   * UNAVAILABLE (`sent` as it was); later calls fail with UNAVAILABLE. Idempotent.
   */
  close(): Promise<void>;
}

export function addressKey(address: PeerAddress): string {
  return `${address.host}:${address.port}`;
}

export {
  ANY_PEER,
  FaultPlan,
  type ActiveFault,
  type FaultClock,
  type FaultDirection,
  type FaultPlanOptions,
  type PeerFault,
} from './fault-plan.ts';
export { FaultyTransport, withFaults } from './faulty-transport.ts';
