/** A peer that speaks the TCP transport's wire protocol by hand, for tests that must send what no real node would. */
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import type { PeerAddress } from '../../src/transport/index.ts';
import { FRAME_HEADER_BYTES, FrameDecoder, decodeFrame, type Frame } from '../../src/transport/tcp/frame.ts';

export interface RawPeer {
  socket: Socket;
  /** host:port of this end, as the server names it in its logs. */
  address: string;
  /** Every frame the server sent, decoded, in order. */
  frames: Frame[];
  closed: Promise<void>;
}

/** Connects and collects the frames the server sends; frames larger than `maxFrameBytes` are not decoded. */
export async function rawPeer(server: PeerAddress, maxFrameBytes = 1 << 20): Promise<RawPeer> {
  const socket = connect({ host: server.host, port: server.port });
  socket.on('error', () => {});
  // Not once(): that rejects on the reset a closing server may cause, which is no failure here.
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const frames: Frame[] = [];
  const decoder = new FrameDecoder(maxFrameBytes);
  socket.on('data', (chunk: Buffer) =>
    decoder.push(chunk, (b) => {
      frames.push(decodeFrame(b));
      return true;
    }),
  );
  await once(socket, 'connect');
  return { socket, address: `${socket.localAddress}:${socket.localPort}`, frames, closed };
}

/** Writes chunks one by one, yielding between them so they tend to arrive as separate reads. */
export async function writeChunks(socket: Socket, chunks: readonly Buffer[]): Promise<void> {
  for (const chunk of chunks) {
    if (socket.destroyed) return;
    socket.write(chunk);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/** Body bytes behind the transport's length prefix, as one frame on the wire. */
export function framed(bodyBytes: Uint8Array): Buffer {
  const out = Buffer.alloc(FRAME_HEADER_BYTES + bodyBytes.length);
  out.writeUInt32BE(bodyBytes.length, 0);
  out.set(bodyBytes, FRAME_HEADER_BYTES);
  return out;
}
