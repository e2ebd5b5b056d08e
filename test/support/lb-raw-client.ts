/**
 * Raw-socket clients for load balancer tests that send what no HTTP client library would:
 * malformed heads, trickled bytes, input that goes on after a refusal. And the resident memory
 * of a process, read from /proc.
 */
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';

/** Writes `bytes` on a fresh connection and returns everything read until the peer closes. */
export function rawExchange(port: number, bytes: string | Buffer, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(bytes));
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.on('error', () => undefined);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the balancer kept the connection open; got ${JSON.stringify(text.slice(0, 400))}`));
    }, timeoutMs);
    timer.unref();
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(text);
    });
  });
}

/** The JSON error code in a raw response's body. */
export function errorCodeOf(text: string): string | undefined {
  const body = text.slice(text.indexOf('\r\n\r\n') + 4);
  try {
    return (JSON.parse(body) as { error?: { code?: string } }).error?.code;
  } catch {
    return undefined;
  }
}

export interface PersistentSender {
  /** What the server sent. */
  readonly text: () => string;
  /** Bytes this client managed to write. */
  readonly sent: () => number;
  /** Resolves with true when the server closed the connection, false when `maxMs` passed first. */
  readonly closed: Promise<boolean>;
}

/**
 * Sends `head`, then keeps writing `chunkBytes` of junk every `everyMs` for up to `maxMs`, as a
 * client that ignores the answer would. Half-open, so the server's FIN does not stop it: only
 * the server destroying the connection does.
 */
export function sendAndKeepSending(port: number, head: string, options: { chunkBytes?: number; everyMs?: number; maxMs?: number } = {}): PersistentSender {
  const chunk = Buffer.alloc(options.chunkBytes ?? 64 * 1024, 0x61);
  const everyMs = options.everyMs ?? 5;
  const maxMs = options.maxMs ?? 10_000;
  let text = '';
  let sent = 0;
  const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  socket.on('data', (data: Buffer) => (text += data.toString('latin1')));
  socket.on('error', () => undefined);
  const closed = new Promise<boolean>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const stop = setTimeout(() => {
      clearInterval(timer);
      socket.destroy();
      resolve(false);
    }, maxMs);
    socket.on('connect', () => {
      socket.write(head);
      timer = setInterval(() => {
        // Keep the socket's own buffer small: write only as fast as the server takes it.
        if (socket.writableLength < chunk.length * 4 && !socket.destroyed) {
          socket.write(chunk);
          sent += chunk.length;
        }
      }, everyMs);
    });
    socket.on('close', () => {
      clearInterval(timer);
      clearTimeout(stop);
      resolve(true);
    });
  });
  return { text: () => text, sent: () => sent, closed };
}

/** A process's resident set size in bytes (Linux), undefined where /proc is not there. */
export function residentBytes(pid: number): number | undefined {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}
