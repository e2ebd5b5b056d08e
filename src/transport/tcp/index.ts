/**
 * The TCP transport driver: length-prefixed msgpack frames over authenticated sockets.
 * The process entry point creates it and hands it to the runtime as a Transport.
 */
import type { Transport } from '../index.ts';
import { TcpTransport, type TcpTransportOptions } from './tcp-transport.ts';

export type { TcpTransportOptions } from './tcp-transport.ts';
export type { ReconnectPolicy } from './outbound-link.ts';

export function createTcpTransport(options: TcpTransportOptions): Transport {
  return new TcpTransport(options);
}
