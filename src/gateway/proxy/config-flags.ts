import type { LbConfig } from './config-schema.ts';
import { validateConfig } from './config-load.ts';

/** The flag form of `shoal lb`: one backend behind one or more listeners. */
export interface LbFlags {
  listen: string[];
  upstreams: string[];
  algorithm?: string;
  workers?: number | 'auto';
  healthPath?: string;
  admin?: string;
  accessLog?: boolean;
  /** Request body limit in bytes; 0 for none. */
  maxBodyBytes?: number;
}

/** Builds the same config a file would give, validated the same way. */
export function configFromFlags(flags: LbFlags): LbConfig {
  const backend: Record<string, unknown> = {
    servers: flags.upstreams.map((url) => ({ url })),
  };
  if (flags.algorithm !== undefined) backend.algorithm = flags.algorithm;
  if (flags.healthPath !== undefined) backend.healthCheck = { path: flags.healthPath };
  const config: Record<string, unknown> = {
    listeners: flags.listen.map((address) => (flags.maxBodyBytes === undefined ? { address, backend: 'default' } : { address, backend: 'default', limits: { maxBodyBytes: flags.maxBodyBytes } })),
    backends: { default: backend },
  };
  if (flags.workers !== undefined) config.workers = flags.workers;
  if (flags.admin !== undefined) config.admin = { address: flags.admin };
  if (flags.accessLog !== undefined) config.accessLog = flags.accessLog;
  return validateConfig(config, 'flags');
}
