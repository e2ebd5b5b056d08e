import { parseArgs } from 'node:util';

export interface RoleArgs {
  id: string;
  dir: string;
  host: string;
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

export function parseRoleArgs(argv: readonly string[]): RoleArgs {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      id: { type: 'string' },
      dir: { type: 'string' },
      host: { type: 'string' },
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
  const args: RoleArgs = { id: values.id, dir: values.dir, host: values.host ?? '127.0.0.1' };
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
