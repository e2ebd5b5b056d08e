import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { cliEntryPath, clusterDir, dashboardLoginUrl, findDefaultConfig, isPidAlive, noConfigMessage, MAX_GATEWAYS, MAX_NODES, readAdminToken, readState, Supervisor } from '../../cluster/index.ts';
import { CliError, intOption, noMorePositionals, parseCommand, portOption } from '../args.ts';
import { adminAnswers, findCluster, fetchStatus } from '../cluster-client.ts';
import { progressPrinter } from '../progress-printer.ts';

const DETACH_READY_TIMEOUT_MS = 180_000;

interface UpOptions {
  nodes: number;
  gateways: number;
  dir: string;
  port: number;
  config: string;
}

export async function up(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand(argv, {
    nodes: { type: 'string' },
    gateways: { type: 'string' },
    detach: { type: 'boolean', default: false },
  });
  noMorePositionals(positionals, 1);
  const options: UpOptions = {
    nodes: intOption('nodes', values.nodes, 3, 1, MAX_NODES),
    gateways: intOption('gateways', values.gateways, 1, 1, MAX_GATEWAYS),
    dir: resolve(values.dir),
    port: portOption(values.port),
    config: positionals[0] === undefined ? (findDefaultConfig() ?? fail(noConfigMessage())) : resolve(positionals[0]),
  };
  return values.detach ? upDetached(options) : upForeground(options);
}

function fail(message: string): never {
  throw new CliError(message);
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
  console.log(`starting a cluster of ${options.nodes} node(s) and ${options.gateways} gateway(s) in ${options.dir}`);
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
    console.log(`try:       shoal call links.create '{"url":"https://example.com"}' --version 2 --dir ${options.dir}`);
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
  const args = [cliEntryPath, 'up', '--nodes', String(options.nodes), '--gateways', String(options.gateways), '--dir', options.dir, '--port', String(options.port), options.config];
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
