import type { Backend } from './backend-pool.ts';
import type { LbMetrics } from './lb-metrics.ts';
import type { RateLimiter } from './rate-limiter.ts';
import type { HeadLookups } from './request-head.ts';

/** Where access log lines go: a pino logger, one object per request. */
export interface AccessLog {
  info(line: object): void;
}

/**
 * What a request handler needs from its listener. Fields are replaced in place on reload, so
 * requests already in flight finish with the settings they started with and new ones get the
 * new settings, without touching the server or its connections.
 */
export interface ListenerContext {
  name: string;
  backend: Backend;
  /** Scheme clients used, for X-Forwarded-Proto and Forwarded. */
  proto: 'http';
  /** 0 means no limit. */
  maxBodyBytes: number;
  rateLimiter: RateLimiter | undefined;
  accessLog: AccessLog | undefined;
  metrics: LbMetrics;
  /** Headers added to every response (flat name, value list), e.g. the worker's pid. */
  responseHeaders: string[];
  /** The same, encoded as header lines, as they are written into every response head. */
  responseHeaderBytes: Buffer;
  /** Headers the rate limit and the hash key are taken from, looked up while parsing. */
  lookups: HeadLookups;
  /** Set while the listener shuts down: responses ask clients to close their connections. */
  closing: boolean;
}
