/**
 * WebSocket (and any other HTTP/1.1 Upgrade) passthrough: the upgrade request is forwarded
 * like any other; once the upstream agrees (101), the two sockets are piped to each other
 * and the balancer no longer looks at the bytes.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { clientAddress, upstreamRequestHeaders } from './forward-headers.ts';
import type { ListenerContext } from './listener-context.ts';
import { ProxyError, rawErrorResponse } from './proxy-errors.ts';

function rawHead(status: number, message: string, rawHeaders: readonly string[]): string {
  let head = `HTTP/1.1 ${status} ${message}\r\n`;
  for (let i = 0; i < rawHeaders.length; i += 2) head += `${rawHeaders[i]}: ${rawHeaders[i + 1]}\r\n`;
  return `${head}\r\n`;
}

function refuse(socket: Duplex, status: number, reason: string, error: ProxyError): void {
  if (socket.writable) socket.end(rawErrorResponse(status, reason, error));
  else socket.destroy();
}

export function handleUpgrade(listener: ListenerContext, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  socket.on('error', () => socket.destroy());
  const now = Date.now();
  const clientIp = clientAddress(req);
  const limiter = listener.rateLimiter;
  if (limiter !== undefined) {
    const waitMs = limiter.take(limiter.keyOf(req, clientIp), now);
    if (waitMs > 0) {
      const seconds = Math.max(1, Math.ceil(waitMs / 1000));
      listener.metrics.refused(listener.name, 429);
      refuse(socket, 429, 'Too Many Requests', new ProxyError(429, 'RATE_LIMITED', 'too many requests; slow down', { retryAfterSeconds: seconds }));
      return;
    }
  }
  const backend = listener.backend;
  const upstream = backend.pick(backend.hashes ? backend.hashKey(req, clientIp) : undefined, undefined, now);
  if (upstream === undefined) {
    refuse(socket, 503, 'Service Unavailable', new ProxyError(503, 'UNAVAILABLE', `no healthy upstream server in backend "${backend.name}"`));
    return;
  }
  upstream.begin();
  let ended = false;
  const release = (): void => {
    if (ended) return;
    ended = true;
    upstream.end();
  };
  const forwarded = upstreamRequestHeaders(req, clientIp, listener.proto, true);
  const proxyReq = httpRequest({ agent: upstream.agent, host: upstream.host, port: upstream.port, method: req.method, path: req.url, headers: forwarded.headers });
  const timer = setTimeout(() => {
    proxyReq.destroy();
    backend.recordFailure(upstream, 'timeout', Date.now());
    refuse(socket, 504, 'Gateway Timeout', new ProxyError(504, 'TIMEOUT', `upstream server ${upstream.id} did not answer the upgrade in time`));
    release();
  }, backend.config.timeouts.try);
  socket.once('close', () => {
    clearTimeout(timer);
    proxyReq.destroy();
    release();
  });
  proxyReq.on('error', (err: NodeJS.ErrnoException) => {
    clearTimeout(timer);
    backend.recordFailure(upstream, err.code === 'ECONNREFUSED' ? 'connect' : 'reset', Date.now());
    refuse(socket, 502, 'Bad Gateway', new ProxyError(502, 'BAD_GATEWAY', `upstream server ${upstream.id} failed: ${err.code ?? err.message}`));
    release();
  });
  proxyReq.on('upgrade', (upstreamRes: IncomingMessage, upstreamSocket: Duplex, upstreamHead: Buffer) => {
    clearTimeout(timer);
    backend.recordStatus(upstream, 101, Date.now());
    upstreamSocket.on('error', () => socket.destroy());
    socket.on('error', () => upstreamSocket.destroy());
    upstreamSocket.once('close', () => socket.destroy());
    socket.once('close', () => upstreamSocket.destroy());
    socket.write(rawHead(upstreamRes.statusCode ?? 101, upstreamRes.statusMessage ?? 'Switching Protocols', upstreamRes.rawHeaders));
    if (upstreamHead.length > 0) socket.write(upstreamHead);
    if (head.length > 0) upstreamSocket.write(head);
    upstreamSocket.pipe(socket);
    socket.pipe(upstreamSocket);
  });
  // The upstream declined to switch protocols: relay its answer and close.
  proxyReq.on('response', (upstreamRes: IncomingMessage) => {
    clearTimeout(timer);
    backend.recordStatus(upstream, upstreamRes.statusCode ?? 502, Date.now());
    const headers = upstreamRes.rawHeaders.filter((_, i, all) => {
      const name = all[i - (i % 2)].toLowerCase();
      return name !== 'connection' && name !== 'keep-alive' && name !== 'transfer-encoding';
    });
    socket.write(rawHead(upstreamRes.statusCode ?? 502, upstreamRes.statusMessage ?? '', [...headers, 'connection', 'close']));
    upstreamRes.pipe(socket);
  });
  proxyReq.end();
}
