/**
 * The load balancer's configuration as a zod schema. Objects are strict so a misspelled key is
 * an error rather than a silently ignored setting; every optional setting has its default here,
 * so the rest of the balancer reads a complete config.
 */
import { z } from 'zod';
import { builtinStrategies } from '../../balance/index.ts';

export interface HostPort {
  host: string;
  port: number;
}

const durationUnits: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DURATION_TEXT = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;

/** "250ms", "2s", "1.5m", "1h" in milliseconds; undefined when the text is no such duration. */
export function parseDuration(text: string): number | undefined {
  const match = DURATION_TEXT.exec(text.trim());
  return match ? Number(match[1]) * durationUnits[match[2]] : undefined;
}

/** Milliseconds, given as a number (ms) or a string with a unit: "250ms", "2s", "1.5m", "1h". */
const duration = z.union([
  z.number().nonnegative().finite(),
  z
    .string()
    .regex(DURATION_TEXT, 'expected a duration such as 500ms, 2s or 1m')
    .transform((text) => parseDuration(text)!),
]);

/** "host:port", "[v6]:port", ":port" or "port"; port 0 picks a free port. */
export function parseAddress(text: string): HostPort | undefined {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text) ?? /^()()(\d{1,5})$/.exec(text);
  if (!match) return undefined;
  const port = Number(match[3]);
  if (port > 65535) return undefined;
  const host = match[1] ?? match[2];
  return { host: host === '' || host === undefined ? '0.0.0.0' : host, port };
}

const address = z.string().transform((text, ctx) => {
  const parsed = parseAddress(text);
  if (!parsed) {
    ctx.addIssue({ code: 'custom', message: `expected an address "host:port", got "${text}"` });
    return z.NEVER;
  }
  return parsed;
});

const upstreamUrl = z.string().transform((text, ctx) => {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    ctx.addIssue({ code: 'custom', message: `expected an http:// URL, got "${text}"` });
    return z.NEVER;
  }
  if (url.protocol !== 'http:' || url.hostname === '' || (url.pathname !== '/' && url.pathname !== '') || url.search !== '') {
    ctx.addIssue({ code: 'custom', message: `expected an http:// URL of scheme, host and port only, got "${text}"` });
    return z.NEVER;
  }
  return `http://${url.host}`;
});

/** "200-399", "200" or [200, 399]. */
const statusRange = z
  .union([z.string().regex(/^\d{3}(-\d{3})?$/, 'expected a status or range such as 200-399'), z.number().int(), z.tuple([z.number().int(), z.number().int()])])
  .transform((value): [number, number] => {
    if (typeof value === 'number') return [value, value];
    if (Array.isArray(value)) return value;
    const [low, high] = value.split('-').map(Number);
    return [low, high ?? low];
  });

export const algorithmNames = Object.keys(builtinStrategies) as [string, ...string[]];

const serverSchema = z.strictObject({
  url: upstreamUrl,
  weight: z.number().positive().finite().default(1),
});

const healthCheckSchema = z.strictObject({
  path: z.string().startsWith('/').default('/'),
  interval: duration.default(2000),
  timeout: duration.default(1000),
  /** Consecutive passes that bring a down server up. */
  rise: z.number().int().positive().default(2),
  /** Consecutive failures that take an up server down. */
  fall: z.number().int().positive().default(3),
  expectStatus: statusRange.default([200, 399]),
});

const retrySchema = z.strictObject({
  /** Retries after the first try, each on a different server. */
  max: z.number().int().nonnegative().default(2),
  /** Retries may be at most this share of recent requests… */
  budgetRatio: z.number().min(0).max(1).default(0.2),
  /** …plus this many per second, so a quiet balancer can still retry. */
  minPerSecond: z.number().nonnegative().default(10),
});

const outlierSchema = z.strictObject({
  /** Consecutive 5xx answers or connection failures that eject a server. */
  consecutiveFailures: z.number().int().positive().default(5),
  /** Ejection lasts baseEjection × the number of times the server was ejected, up to maxEjection. */
  baseEjection: duration.default(30_000),
  maxEjection: duration.default(300_000),
  /** Never eject more than this share of the servers, so the pool never empties. */
  maxEjectedPercent: z.number().min(0).max(100).default(50),
});

const circuitBreakerSchema = z.strictObject({
  /** Requests in flight to one server beyond which it takes no more. */
  maxConcurrent: z.number().int().positive().default(1024),
  /** Consecutive connection failures or timeouts that open the circuit. */
  consecutiveFailures: z.number().int().positive().default(5),
  /** How long an open circuit refuses requests before letting one trial request through. */
  openFor: duration.default(5000),
});

const hashSchema = z.discriminatedUnion('source', [
  z.strictObject({ source: z.literal('client-ip') }),
  z.strictObject({ source: z.literal('path') }),
  z.strictObject({ source: z.literal('header'), name: z.string().min(1).toLowerCase() }),
  z.strictObject({ source: z.literal('cookie'), name: z.string().min(1) }),
]);

const backendSchema = z.strictObject({
  algorithm: z.enum(algorithmNames).default('round-robin'),
  /** Where hashing strategies (ip-hash, consistent-hash, maglev) take their key from. */
  hash: hashSchema.default({ source: 'client-ip' }),
  servers: z.array(serverSchema).min(1),
  healthCheck: healthCheckSchema.optional(),
  timeouts: z
    .strictObject({
      /** Time for one server to start answering (connect, send, response headers). */
      try: duration.default(10_000),
      /** Time for an answer to start, all tries together. */
      total: duration.default(30_000),
      /**
       * An answer that stalls this long (nothing from the server, or nothing taken by the client)
       * is cut off and both connections close; a pooled connection idle this long is closed.
       */
      idle: duration.default(60_000),
    })
    .default({ try: 10_000, total: 30_000, idle: 60_000 }),
  retries: retrySchema.default({ max: 2, budgetRatio: 0.2, minPerSecond: 10 }),
  outlierDetection: outlierSchema.default({ consecutiveFailures: 5, baseEjection: 30_000, maxEjection: 300_000, maxEjectedPercent: 50 }),
  /** A server coming back ramps from 10% to its full weight over this long; 0 turns it off. */
  slowStart: duration.default(0),
  circuitBreaker: circuitBreakerSchema.default({ maxConcurrent: 1024, consecutiveFailures: 5, openFor: 5000 }),
  /** Connections kept to each server. */
  maxSocketsPerServer: z.number().int().positive().default(256),
  /** How long a removed server may take to finish its requests before its connections close. */
  drainTimeout: duration.default(30_000),
});

const rateLimitSchema = z.strictObject({
  /** Tokens added per second. */
  ratePerSecond: z.number().positive().finite(),
  /** Bucket size: how many requests may come at once. */
  burst: z.number().int().positive().optional(),
  /** Counted per client address, or per value of a header (an API key); a request without it counts by address. */
  by: z.enum(['client-ip', 'header']).default('client-ip'),
  header: z.string().min(1).toLowerCase().default('x-api-key'),
});

const limitsDefaults = {
  maxHeaderBytes: 16 * 1024,
  maxBodyBytes: 10 * 1024 * 1024,
  headersTimeout: 10_000,
  requestTimeout: 300_000,
  idleTimeout: 5000,
};

const limitsSchema = z.strictObject({
  maxHeaderBytes: z.number().int().positive().default(limitsDefaults.maxHeaderBytes),
  /** 0 means no limit. */
  maxBodyBytes: z.number().int().nonnegative().default(limitsDefaults.maxBodyBytes),
  /** Time for a client to send its request headers (slowloris protection). */
  headersTimeout: duration.default(limitsDefaults.headersTimeout),
  /** Time for a client to send its whole request; 0 means no limit. */
  requestTimeout: duration.default(limitsDefaults.requestTimeout),
  /** How long an idle keep-alive connection is kept. */
  idleTimeout: duration.default(limitsDefaults.idleTimeout),
  maxConnections: z.number().int().positive().optional(),
});

const listenerSchema = z.strictObject({
  name: z.string().min(1).optional(),
  address,
  backend: z.string().min(1),
  rateLimit: rateLimitSchema.optional(),
  limits: limitsSchema.default(limitsDefaults),
});

export const lbConfigSchema = z
  .strictObject({
    /** Worker processes sharing the listeners; "auto" is one per core. */
    workers: z.union([z.number().int().positive().max(256), z.literal('auto')]).default(1),
    accessLog: z.boolean().default(true),
    admin: z
      .strictObject({
        address,
        /** Time for a client of the admin listener to send its request head; 408 after it. */
        headersTimeout: duration.default(10_000),
      })
      .optional(),
    listeners: z.array(listenerSchema).min(1),
    backends: z.record(z.string().min(1), backendSchema),
  })
  .superRefine((config, ctx) => {
    const seen = new Map<string, number>();
    config.listeners.forEach((listener, index) => {
      if (!Object.hasOwn(config.backends, listener.backend)) {
        const known = Object.keys(config.backends).join(', ') || 'none';
        ctx.addIssue({ code: 'custom', path: ['listeners', index, 'backend'], message: `unknown backend "${listener.backend}" (defined: ${known})` });
      }
      const key = `${listener.address.host}:${listener.address.port}`;
      if (listener.address.port !== 0 && seen.has(key)) {
        ctx.addIssue({ code: 'custom', path: ['listeners', index, 'address'], message: `address ${key} is already used by listener ${seen.get(key)! + 1}` });
      }
      seen.set(key, index);
    });
    for (const [name, backend] of Object.entries(config.backends)) {
      const urls = new Set<string>();
      backend.servers.forEach((server, index) => {
        if (urls.has(server.url)) ctx.addIssue({ code: 'custom', path: ['backends', name, 'servers', index, 'url'], message: `server ${server.url} is listed twice` });
        urls.add(server.url);
      });
      if (backend.timeouts.try > backend.timeouts.total) {
        ctx.addIssue({ code: 'custom', path: ['backends', name, 'timeouts', 'try'], message: 'the try timeout must not exceed the total timeout' });
      }
    }
  });

export type LbConfig = z.output<typeof lbConfigSchema>;
export type LbConfigInput = z.input<typeof lbConfigSchema>;
export type ListenerConfig = LbConfig['listeners'][number];
export type BackendConfig = LbConfig['backends'][string];
export type HealthCheckConfig = NonNullable<BackendConfig['healthCheck']>;
export type OutlierConfig = BackendConfig['outlierDetection'];
export type CircuitBreakerConfig = BackendConfig['circuitBreaker'];
export type RetryConfig = BackendConfig['retries'];
export type HashSource = BackendConfig['hash'];
export type RateLimitConfig = NonNullable<ListenerConfig['rateLimit']>;
export type LimitsConfig = ListenerConfig['limits'];
