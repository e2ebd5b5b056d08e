/**
 * Keep-alive TCP connections to one upstream server. A connection has at most one owner (the
 * exchange using it); socket events go to the owner through handlers installed once per
 * socket, so a request adds no listeners. Idle connections are reused last-in first-out, so
 * the surplus ones age out, and are closed after the idle timeout.
 */
import { connect, type Socket } from 'node:net';

/** What uses an upstream connection: told about its socket's events while it owns it. */
export interface UpstreamOwner {
  /** The connection is the owner's now (possibly still connecting). */
  onUpstreamSocket(connection: UpstreamConnection): void;
  onUpstreamData(chunk: Buffer): void;
  /** The server finished sending (its side of the connection is closed). */
  onUpstreamEnd(): void;
  /** The connection closed while owned; `error` when it failed. */
  onUpstreamClose(error: NodeJS.ErrnoException | undefined): void;
  /** The socket's write buffer emptied. */
  onUpstreamDrain(): void;
}

const connectionKey = Symbol('shoal.lb.upstream');
type TaggedSocket = Socket & { [connectionKey]?: UpstreamConnection };

export class UpstreamConnection {
  readonly socket: Socket;
  readonly pool: ConnectionPool;
  owner: UpstreamOwner | undefined;
  idleSinceMs = 0;
  error: NodeJS.ErrnoException | undefined;
  idle = false;

  constructor(pool: ConnectionPool, socket: Socket, owner: UpstreamOwner) {
    this.pool = pool;
    this.socket = socket;
    this.owner = owner;
  }
}

function onData(this: TaggedSocket, chunk: Buffer): void {
  const owner = this[connectionKey]!.owner;
  // Bytes from a server nobody asked anything: the connection's state is unknown, drop it.
  if (owner === undefined) this.destroy();
  else owner.onUpstreamData(chunk);
}

function onEnd(this: TaggedSocket): void {
  this[connectionKey]!.owner?.onUpstreamEnd();
}

function onError(this: TaggedSocket, err: NodeJS.ErrnoException): void {
  this[connectionKey]!.error = err;
}

function onClose(this: TaggedSocket): void {
  const connection = this[connectionKey]!;
  connection.pool.closed(connection);
  const owner = connection.owner;
  connection.owner = undefined;
  owner?.onUpstreamClose(connection.error);
}

function onDrain(this: TaggedSocket): void {
  this[connectionKey]!.owner?.onUpstreamDrain();
}

export class ConnectionPool {
  readonly host: string;
  readonly port: number;
  maxSockets: number;
  idleMs: number;
  readonly #idle: UpstreamConnection[] = [];
  readonly #waiting: UpstreamOwner[] = [];
  #open = 0;
  #closed = false;
  #nowMs = Date.now();
  readonly #sweeper: NodeJS.Timeout;

  constructor(host: string, port: number, maxSockets: number, idleMs: number) {
    this.host = host;
    this.port = port;
    this.maxSockets = maxSockets;
    this.idleMs = idleMs;
    // A coarse clock from the sweeper stamps idle connections: no clock read per request.
    this.#sweeper = setInterval(() => this.#sweep(), Math.max(100, Math.min(1000, idleMs / 2)));
    this.#sweeper.unref();
  }

  /** Open connections, idle or owned. */
  get open(): number {
    return this.#open;
  }

  /** Hands `owner` a connection now, or once one is free when the pool is at its limit. */
  acquire(owner: UpstreamOwner): void {
    const idle = this.#idle;
    while (idle.length > 0) {
      const connection = idle.pop()!;
      connection.idle = false;
      if (connection.socket.destroyed || !connection.socket.writable) continue;
      connection.owner = owner;
      owner.onUpstreamSocket(connection);
      return;
    }
    if (this.#open < this.maxSockets || this.#closed) {
      owner.onUpstreamSocket(this.#connect(owner));
      return;
    }
    this.#waiting.push(owner);
  }

  /** Withdraws a request still waiting for a connection. */
  cancel(owner: UpstreamOwner): void {
    const index = this.#waiting.indexOf(owner);
    if (index !== -1) this.#waiting.splice(index, 1);
  }

  /** The owner is done and the connection is clean: keep it for the next request. */
  release(connection: UpstreamConnection): void {
    connection.owner = undefined;
    if (this.#closed) {
      connection.socket.destroy();
      return;
    }
    const next = this.#waiting.shift();
    if (next !== undefined) {
      connection.owner = next;
      next.onUpstreamSocket(connection);
      return;
    }
    connection.idleSinceMs = this.#nowMs;
    connection.idle = true;
    this.#idle.push(connection);
  }

  /** The owner is done but the connection cannot be reused (mid-message, failed, timed out). */
  discard(connection: UpstreamConnection): void {
    connection.owner = undefined;
    connection.socket.destroy();
  }

  /** Called from the socket's close handler. */
  closed(connection: UpstreamConnection): void {
    this.#open--;
    if (connection.idle) {
      connection.idle = false;
      const index = this.#idle.indexOf(connection);
      if (index !== -1) this.#idle.splice(index, 1);
    }
    const next = this.#closed ? undefined : this.#waiting.shift();
    if (next !== undefined) next.onUpstreamSocket(this.#connect(next));
  }

  /** Closes idle connections and stops pooling; owned ones close when their owners finish. */
  close(): void {
    this.#closed = true;
    clearInterval(this.#sweeper);
    for (const connection of this.#idle.splice(0)) {
      connection.idle = false;
      connection.socket.destroy();
    }
  }

  #connect(owner: UpstreamOwner): UpstreamConnection {
    const socket: TaggedSocket = connect({ host: this.host, port: this.port, noDelay: true });
    const connection = new UpstreamConnection(this, socket, owner);
    socket[connectionKey] = connection;
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', onError);
    socket.on('close', onClose);
    socket.on('drain', onDrain);
    this.#open++;
    return connection;
  }

  #sweep(): void {
    this.#nowMs = Date.now();
    const idle = this.#idle;
    // Oldest first: the stack's bottom has waited longest.
    while (idle.length > 0 && this.#nowMs - idle[0].idleSinceMs > this.idleMs) {
      const connection = idle.shift()!;
      connection.idle = false;
      connection.socket.destroy();
    }
  }
}
