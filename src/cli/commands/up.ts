import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { cliEntryPath, clusterDir, dashboardLoginUrl, isPidAlive, MAX_GATEWAYS, MAX_NODES, parseZoneList, readAdminToken, readState, Supervisor } from '../../cluster/index.ts';
import { CliError, globalFlags, intOption, noMorePositionals, parseWith, portOption, UsageError, type CommandSpec } from '../args.ts';
import { loadConfig } from '../config-check.ts';
import { tryHint } from '../try-hint.ts';
import { adminAnswers, findCluster, fetchStatus } from '../cluster-client.ts';
import { progressPrinter } from '../progress-printer.ts';

const DETACH_READY_TIMEOUT_MS = 180_000;

interface UpOptions {
  nodes: number;
  gateways: number;
  dir: string;
  port: number;
  config: string;
  /** Zones the nodes are spread over; empty for none. */
  zones: string[];
  /** `shoal call …` for the config's own first action, or undefined when it has none. */
  hint: string | undefined;
}

export const upSpec = {
  name: 'up',
  summary: 'start a local cluster from a shoal.config.ts and print its gateway and dashboard',
  usage: '[CONFIG] [--nodes N] [--gateways G] [--zones LIST] [--detach] [--dir DIR] [--port P]',
  positionals: [{ name: 'CONFIG', help: 'a shoal.config.ts, or a directory holding one (default: the bundled links example)' }],
  flags: {
    nodes: { type: 'string', value: 'N', help: `nodes hosting the services and data (1 to ${MAX_NODES}, default 3)` },
    gateways: { type: 'string', value: 'G', help: `HTTP gateways (1 to ${MAX_GATEWAYS}, default 1)` },
    zones: { type: 'string', value: 'LIST', help: 'zones to spread the nodes over round-robin, e.g. a,b,c (node-1 in a, node-2 in b, …); names use a-z, 0-9 and -' },
    detach: { type: 'boolean', default: false, help: 'run in the background; stop it with shoal down' },
  },
  notes: 'The config is loaded and checked before any process starts; a mistake is reported with its file, line and service.',
} as const satisfies CommandSpec;

export async function up(argv: string[]): Promise<number> {
  const { values, positionals } = parseWith(upSpec, argv);
  noMorePositionals(positionals, 1);
  const nodes = intOption('nodes', values.nodes, 3, 1, MAX_NODES);
  const gateways = intOption('gateways', values.gateways, 1, 1, MAX_GATEWAYS);
  const port = portOption(values.port);
  const zones = zonesOption(values.zones);
  const { path, config } = await loadConfig(positionals[0]);
  const hint = tryHint(config, { port: values.port, dir: values.dir === globalFlags.dir.default ? undefined : values.dir });
  const options: UpOptions = { nodes, gateways, dir: resolve(values.dir), port, config: path, zones, hint };
  return values.detach ? upDetached(options) : upForeground(options);
}

function zonesOption(value: string | undefined): string[] {
  if (value === undefined) return [];
  try {
    return parseZoneList(value);
  } catch (err) {
    throw new UsageError(`--zones: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** `dashboardUrl` is the login URL: it carries the admin token, for the operator's terminal only. */
function printUrls(supervisor: { gatewayUrl: string; dashboardUrl: string; adminUrl: string }, dir: string): void {
  console.log(`gateway:   ${supervisor.gatewayUrl}`);
  console.log(`dashboard: ${supervisor.dashboardUrl}`);
  console.log(`admin:     ${supervisor.adminUrl}`);
  console.log(`logs:      ${clusterDir(dir).logs}`);
}

async function upForeground(options: UpOptions): Promise<number> {
  const supervisor = new Supervisor({
    ...options,
    entry: cliEntryPath,
    onProgress: progressPrinter((text) => process.stdout.write(text)),
  });
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals === 1) {
      process.stdout.write(`\n${signal}: stopping gateways, then nodes, then control (again to kill every process at once)\n`);
      void supervisor.stop();
    } else {
      supervisor.killAll();
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  const zones = options.zones.length > 0 ? ` over zones ${options.zones.join(', ')}` : '';
  console.log(`starting a cluster of ${options.nodes} node(s)${zones} and ${options.gateways} gateway(s) in ${options.dir}`);
  console.log(`config: ${options.config}`);
  try {
    await supervisor.start();
  } catch (err) {
    await supervisor.stop();
    if (signals > 0) return 0;
    throw new CliError(`the cluster did not start: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (signals === 0) {
    console.log('cluster ready');
    printUrls({ gatewayUrl: supervisor.gatewayUrl, dashboardUrl: supervisor.dashboardLoginUrl, adminUrl: supervisor.adminUrl }, options.dir);
    if (options.hint) console.log(`try:       ${options.hint}`);
    console.log('Ctrl-C stops the cluster');
  }
  await supervisor.done;
  console.log('cluster stopped');
  return 0;
}

async function upDetached(options: UpOptions): Promise<number> {
  const running = await findCluster(options.dir, undefined);
  if (running && (await adminAnswers(running.adminUrl))) {
    throw new CliError(`a cluster is already running in ${options.dir} (supervisor pid ${running.pid}, gateway ${running.gatewayUrl}); stop it with: shoal down --dir ${options.dir}`);
  }
  const layout = clusterDir(options.dir);
  await mkdir(layout.logs, { recursive: true });
  const logPath = join(layout.logs, 'supervisor.log');
  const fd = openSync(logPath, 'a');
  const args = [
    cliEntryPath, 'up',
    '--nodes', String(options.nodes),
    '--gateways', String(options.gateways),
    ...(options.zones.length > 0 ? ['--zones', options.zones.join(',')] : []),
    '--dir', options.dir,
    '--port', String(options.port),
    options.config,
  ];
  let child;
  try {
    child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', fd, fd], cwd: process.cwd() });
  } finally {
    closeSync(fd);
  }
  let exited: string | undefined;
  child.once('exit', (code, signal) => (exited = signal ? `signal ${signal}` : `code ${code}`));
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new CliError('could not start the supervisor process');
  console.log(`starting the cluster in the background (supervisor pid ${pid}); log: ${logPath}`);

  const deadline = Date.now() + DETACH_READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (exited !== undefined || !isPidAlive(pid)) {
      throw new CliError(`the supervisor exited (${exited ?? 'gone'}) before the cluster was ready; last lines of ${logPath}:\n${await tail(logPath, 20)}`);
    }
    const state = await readState(layout.stateFile);
    if (state?.pid === pid) {
      const adminToken = await readAdminToken(layout.adminToken);
      const status = await fetchStatus({ dir: layout.root, adminUrl: state.adminUrl, gatewayUrl: state.gatewayUrl, pid, adminToken }).catch(() => undefined);
      if (status?.state === 'running') {
        console.log('cluster ready');
        const dashboardUrl = adminToken ? dashboardLoginUrl(state.dashboardUrl, adminToken) : state.dashboardUrl;
        printUrls({ gatewayUrl: state.gatewayUrl, dashboardUrl, adminUrl: state.adminUrl }, options.dir);
        if (options.hint) console.log(`try:       ${options.hint}`);
        console.log(`stop it with: shoal down --dir ${options.dir}`);
        return 0;
      }
    }
    await sleep(250);
  }
  throw new CliError(`the cluster was not ready within ${DETACH_READY_TIMEOUT_MS / 1000} s; it keeps starting in the background (pid ${pid}); see ${logPath}`);
}

async function tail(path: string, lines: number): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
