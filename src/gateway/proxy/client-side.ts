import type { ClientOrigin } from './forward-headers.ts';
import type { ProxyError } from './proxy-errors.ts';

/**
 * What an exchange or an upgrade tunnel needs from the client connection it serves. An
 * interface of its own, so the connection can create exchanges and tunnels without either of
 * them importing the connection back.
 */
export interface ClientSide {
  readonly origin: ClientOrigin;
  /** The socket is gone: nothing more can be written to it. */
  readonly destroyed: boolean;
  /** The connection closes after the exchange in flight (the listener stops, or the client ended). */
  readonly closing: boolean;
  /** Writes to the client; false when its write buffer is full. */
  write(data: Buffer): boolean;
  pauseReading(): void;
  resumeReading(): void;
  /** Moves buffered request bytes along (the upstream can take body bytes again). */
  pump(): void;
  /** The exchange is over; `close` when the connection must not carry another. */
  exchangeDone(close: boolean): void;
  /** Answers with a raw error response and closes (a request that cannot go on). */
  refuse(status: number, reason: string, error: ProxyError): void;
  /** Closes after what was written has been sent. */
  end(): void;
  /** Closes at once: a response that cannot be completed. */
  destroy(): void;
}
