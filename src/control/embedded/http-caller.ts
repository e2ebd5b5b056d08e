/**
 * HttpCaller: signed JSON requests to the coordinator server over a keep-alive agent, and the
 * connection state derived from them — any answer means connected, a network failure means
 * disconnected. Every network failure surfaces as ShoalError UNAVAILABLE.
 */
import { Agent, request as httpRequest } from 'node:http';
import type { ClientRequest } from 'node:http';
import { ShoalError, errorFromWire, type Logger } from '../../core/index.ts';
import type { CoordinatorState } from '../index.ts';
import { SIGNATURE_HEADER, TIME_HEADER, signRequest } from './auth.ts';

export interface CallOptions {
  timeoutMs?: number;
  /** Aborts the call; it then rejects with UNAVAILABLE. */
  signal?: AbortSignal;
}

export class HttpCaller {
  // No socket cap: watch long-polls hold a socket each and must never queue ordinary calls.
  private readonly agent = new Agent({ keepAlive: true });
  private readonly host: string;
  private readonly port: number;
  private readonly secret: string;
  private readonly logger: Logger;
  private readonly defaultTimeoutMs: number;
  private readonly inflight = new Set<ClientRequest>();
  private readonly listeners: ((state: CoordinatorState) => void)[] = [];
  private current: CoordinatorState = 'disconnected';
  private closed = false;
  /** Highest cluster revision seen in any answer. */
  knownRevision: number | undefined;

  constructor(options: { url: string; secret: string; logger: Logger; requestTimeoutMs: number }) {
    const url = new URL(options.url);
    if (url.protocol !== 'http:') throw new ShoalError('BAD_REQUEST', `coordinator url must be http://, got ${options.url}`);
    if (!options.secret) throw new ShoalError('BAD_REQUEST', 'coordinator client needs a non-empty secret');
    this.host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    this.port = Number(url.port || 80);
    this.secret = options.secret;
    this.logger = options.logger;
    this.defaultTimeoutMs = options.requestTimeoutMs;
  }

  state(): CoordinatorState {
    return this.current;
  }

  onStateChange(listener: (state: CoordinatorState) => void): void {
    this.listeners.push(listener);
  }

  async call<T>(method: 'GET' | 'POST', path: string, body?: unknown, options: CallOptions = {}): Promise<T> {
    if (this.closed) throw new ShoalError('UNAVAILABLE', 'coordinator client is closed');
    const text = body === undefined ? '' : JSON.stringify(body);
    try {
      return (await this.attempt(method, path, text, options)) as T;
    } catch (err) {
      // A keep-alive socket the server closed while idle fails on reuse before the request
      // reached the server; one fresh attempt is what Node's docs recommend for that case.
      if (err instanceof StaleSocketError) return (await this.attempt(method, path, text, options)) as T;
      throw err;
    }
  }

  close(): void {
    this.closed = true;
    for (const req of this.inflight) req.destroy(new ShoalError('UNAVAILABLE', 'coordinator client is closed'));
    this.agent.destroy();
  }

  private attempt(method: string, path: string, text: string, options: CallOptions): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (options.signal?.aborted) {
        reject(new ShoalError('UNAVAILABLE', 'coordinator call aborted'));
        return;
      }
      const time = String(Date.now());
      const req = httpRequest({
        agent: this.agent,
        host: this.host,
        port: this.port,
        method,
        path,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(text),
          [TIME_HEADER]: time,
          [SIGNATURE_HEADER]: signRequest(this.secret, method, path, time, text),
        },
      });
      this.inflight.add(req);
      let abortedByCaller = false;
      const onAbort = () => {
        abortedByCaller = true;
        req.destroy(new ShoalError('UNAVAILABLE', 'coordinator call aborted'));
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      const cleanup = () => {
        this.inflight.delete(req);
        options.signal?.removeEventListener('abort', onAbort);
      };
      const timeoutMs = options.timeoutMs ?? this.defaultTimeoutMs;
      req.setTimeout(timeoutMs, () => req.destroy(new ShoalError('UNAVAILABLE', `coordinator did not answer within ${timeoutMs} ms`)));

      req.on('response', (res) => {
        this.setState('connected');
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        // The server went away mid-answer (e.g. killed): as unreachable as a refused connect.
        res.on('error', (err) => {
          cleanup();
          if (!abortedByCaller) this.setState('disconnected');
          reject(new ShoalError('UNAVAILABLE', `coordinator connection lost: ${err.message}`));
        });
        res.on('end', () => {
          cleanup();
          let parsed: unknown;
          try {
            parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          } catch {
            reject(new ShoalError('INTERNAL', `coordinator sent a malformed answer (HTTP ${res.statusCode})`));
            return;
          }
          if ((res.statusCode ?? 500) >= 400) {
            reject(errorFromWire((parsed as { error?: unknown } | null)?.error));
            return;
          }
          const revision = (parsed as { revision?: unknown } | null)?.revision;
          if (typeof revision === 'number' && revision > (this.knownRevision ?? -1)) this.knownRevision = revision;
          resolve(parsed);
        });
      });
      req.on('error', (err) => {
        cleanup();
        if (req.reusedSocket && (err as NodeJS.ErrnoException).code === 'ECONNRESET' && !options.signal?.aborted) {
          reject(new StaleSocketError());
          return;
        }
        if (!abortedByCaller) this.setState('disconnected');
        reject(err instanceof ShoalError ? err : new ShoalError('UNAVAILABLE', `coordinator unreachable: ${err.message}`, { cause: (err as NodeJS.ErrnoException).code }));
      });
      req.end(text);
    });
  }

  private setState(next: CoordinatorState): void {
    if (this.closed || next === this.current) return;
    this.current = next;
    this.logger.info({ state: next }, `coordinator ${next}`);
    for (const listener of this.listeners) {
      try {
        listener(next);
      } catch (err) {
        this.logger.error({ err }, 'coordinator state listener threw');
      }
    }
  }
}

class StaleSocketError extends Error {}
