import { parseArgs } from 'node:util';
import { checkZoneName } from '../zones.ts';

/** The address a process listens on and advertises when neither --host nor SHOAL_HOST names one. */
export const DEFAULT_HOST = '127.0.0.1';

export interface RoleArgs {
  id: string;
  dir: string;
  /** Where the process listens and what it advertises to peers: --host, else SHOAL_HOST, else 127.0.0.1. */
  host: string;
  /** The node's zone: --zone, else SHOAL_ZONE; none when neither is set. */
  zone?: string;
  port?: number;
  control?: string;
  transportPort?: number;
  httpPort?: number;
  config?: string;
}

function port(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`--${flag} must be a port number, got ${value}`);
  return n;
}

/**
 * A role's arguments. The environment fallbacks are for a process started by hand (a node
 * joining from another machine or namespace); the supervisor always passes the flags.
 */
export function parseRoleArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): RoleArgs {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      id: { type: 'string' },
      dir: { type: 'string' },
      host: { type: 'string' },
      zone: { type: 'string' },
      port: { type: 'string' },
      control: { type: 'string' },
      'transport-port': { type: 'string' },
      'http-port': { type: 'string' },
      config: { type: 'string' },
    },
    strict: true,
  });
  if (!values.id) throw new Error('--id is required');
  if (!values.dir) throw new Error('--dir is required');
  const host = values.host ?? (env.SHOAL_HOST || DEFAULT_HOST);
  const args: RoleArgs = { id: values.id, dir: values.dir, host };
  const zone = values.zone ?? (env.SHOAL_ZONE || undefined);
  if (zone !== undefined) args.zone = checkZoneName(zone);
  const p = port(values.port, 'port');
  if (p !== undefined) args.port = p;
  const tp = port(values['transport-port'], 'transport-port');
  if (tp !== undefined) args.transportPort = tp;
  const hp = port(values['http-port'], 'http-port');
  if (hp !== undefined) args.httpPort = hp;
  if (values.control) args.control = values.control;
  if (values.config) args.config = values.config;
  return args;
}

export function required<T>(value: T | undefined, flag: string): T {
  if (value === undefined) throw new Error(`--${flag} is required`);
  return value;
}
