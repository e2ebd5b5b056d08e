/**
 * `shoal lb`: the standalone reverse-proxy load balancer, from a YAML file
 * (`--config lb.yaml`) or from flags (`--listen … --upstream … --algorithm …`).
 */
import { ConfigError, configFromFlags, loadConfigFile, runLoadBalancer, type LbConfig } from '../../gateway/index.ts';
import { HelpRequested, parseWith, UsageError, type CommandSpec } from '../args.ts';
import { commandHelp, usageLine } from '../help.ts';

export const lbSpec = {
  name: 'lb',
  summary: 'a standalone reverse-proxy load balancer in front of any HTTP servers',
  usage: '--config FILE [--no-access-log]\n       shoal lb --listen HOST:PORT --upstream URL [--upstream URL …] [--algorithm NAME] [options]',
  globals: [],
  flags: {
    config: { type: 'string', short: 'c', value: 'FILE', help: 'YAML config: listeners, backends, health checks, limits (reloads on change or SIGHUP)' },
    listen: { type: 'string', multiple: true, value: 'HOST:PORT', help: 'address to accept clients on (repeatable)' },
    upstream: { type: 'string', multiple: true, value: 'URL', help: 'upstream server, e.g. http://127.0.0.1:9001 (repeatable)' },
    algorithm: {
      type: 'string',
      value: 'NAME',
      help: 'round-robin (default), weighted-round-robin, least-conn, ip-hash, consistent-hash, maglev, random, p2c, peak-ewma',
    },
    workers: { type: 'string', value: 'N|auto', help: 'worker processes sharing the listeners (auto: one per core)' },
    'health-path': { type: 'string', value: 'PATH', help: 'active HTTP health checks on this path' },
    admin: { type: 'string', value: 'HOST:PORT', help: 'serve /metrics and /healthz here' },
    'max-body-bytes': { type: 'string', value: 'N', help: 'largest request body accepted (default 10485760; 0: no limit)' },
    'no-access-log': { type: 'boolean', default: false, help: 'no per-request log lines (for benchmarks)' },
  },
} as const satisfies CommandSpec;

/** `shoal lb --help`, from the same flag list the parser uses. */
export const lbUsage = commandHelp(lbSpec, lbSpec.flags);

class LbUsageError extends Error {}

function parseWorkers(value: string | undefined): number | 'auto' | undefined {
  if (value === undefined || value === 'auto') return value;
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new LbUsageError(`--workers must be a positive integer or "auto", got "${value}"`);
  return Number(value);
}

function parseMaxBody(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new LbUsageError(`--max-body-bytes must be a number of bytes, got "${value}"`);
  return Number(value);
}

async function configFromArgv(argv: string[]): Promise<{ config: LbConfig; configPath?: string; accessLog?: boolean } | 'help'> {
  let values;
  try {
    const parsed = parseWith(lbSpec, argv);
    if (parsed.positionals.length > 0) throw new UsageError(`unexpected argument "${parsed.positionals[0]}"`);
    values = parsed.values;
  } catch (err) {
    if (err instanceof HelpRequested) return 'help';
    if (err instanceof UsageError) throw new LbUsageError(err.message);
    throw err;
  }
  const accessLog = values['no-access-log'] ? false : undefined;
  if (values.config !== undefined) {
    const flagOnly = (['listen', 'upstream', 'algorithm', 'workers', 'health-path', 'admin', 'max-body-bytes'] as const).filter((name) => {
      const value = values[name];
      return Array.isArray(value) ? value.length > 0 : value !== undefined;
    });
    if (flagOnly.length > 0) throw new LbUsageError(`--config cannot be combined with ${flagOnly.map((name) => `--${name}`).join(', ')}; set them in the file`);
    return { config: await loadConfigFile(values.config), configPath: values.config, accessLog };
  }
  if (!values.listen?.length || !values.upstream?.length) throw new LbUsageError('give --config FILE, or --listen and at least one --upstream');
  const config = configFromFlags({
    listen: values.listen,
    upstreams: values.upstream,
    algorithm: values.algorithm,
    workers: parseWorkers(values.workers),
    healthPath: values['health-path'],
    admin: values.admin,
    accessLog,
    maxBodyBytes: parseMaxBody(values['max-body-bytes']),
  });
  return { config, accessLog };
}

/** Runs the balancer until SIGTERM/SIGINT; returns the exit code (2 for bad flags or config). */
export async function runLb(argv: string[]): Promise<number> {
  let setup;
  try {
    setup = await configFromArgv(argv);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`shoal lb: invalid configuration\n${err.message}\n`);
      return 2;
    }
    if (err instanceof LbUsageError) {
      process.stderr.write(`shoal lb: ${err.message}\n${usageLine(lbSpec)}\n(shoal lb --help lists its options)\n`);
      return 2;
    }
    throw err;
  }
  if (setup === 'help') {
    process.stdout.write(lbUsage);
    return 0;
  }
  try {
    return await runLoadBalancer({ config: setup.config, configPath: setup.configPath, accessLog: setup.accessLog });
  } catch (err) {
    process.stderr.write(`shoal lb: cannot start: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}
