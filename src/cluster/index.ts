/**
 * Local clusters: a supervisor that runs control, nodes and gateways as separate processes on
 * one machine, restarts them when they die, and exposes an admin API the CLI talks to.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Supervisor } from './supervisor.ts';
import type { ClusterEvent, ClusterStatus } from './types.ts';

export type { ClusterEvent, ClusterState, ClusterStatus, ProcessRole, ProcessStatus } from './types.ts';
export type { SupervisorState } from './state-file.ts';
export { readState, isPidAlive } from './state-file.ts';
export { clusterDir } from './cluster-dir.ts';
export { portPlan, MAX_NODES, MAX_GATEWAYS } from './ports.ts';
export { checkZoneName, parseZoneList, zoneOfNode } from './zones.ts';
export { probeHealth } from './health.ts';
export { Supervisor, dashboardLoginUrl } from './supervisor.ts';
export { readAdminToken } from './secret.ts';
export { clusterDrivers, connect, connectCoordinator, type ClusterConnection, type ClusterDrivers, type ConnectOptions } from './connect.ts';
export * from './chaos/index.ts';

// This module is src/cluster/index.ts in a checkout and dist/cluster/index.js in an installed
// package: the files named here sit at the same places relative to it, with its own extension.
const ownExtension = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
const besideThis = (path: string) => fileURLToPath(new URL(path, import.meta.url));

/** The file `shoal up` looks for in the current directory when no config is named. */
export const CONFIG_FILE_NAME = 'shoal.config.ts';
/** The bundled example application; only a checkout of the repository has it, an installed package does not. */
export const defaultConfigPath = besideThis('../../examples/links/shoal.config.ts');
/** The CLI entry every cluster process runs: the sources in a checkout, the built JavaScript when installed. */
export const cliEntryPath = besideThis(`../cli/main${ownExtension}`);

/**
 * The config to run when none is named: `shoal.config.ts` in `dir`, else the bundled example
 * where there is one (a checkout); undefined when there is neither.
 */
export function findDefaultConfig(dir: string = process.cwd()): string | undefined {
  const own = resolve(dir, CONFIG_FILE_NAME);
  if (existsSync(own)) return own;
  return existsSync(defaultConfigPath) ? defaultConfigPath : undefined;
}

/** What to tell a user who ran `shoal up` where there is no config. */
export function noConfigMessage(dir: string = process.cwd()): string {
  return `no ${CONFIG_FILE_NAME} in ${dir}: run \`npx shoal init\` to write a starter project here, or name one: shoal up path/to/${CONFIG_FILE_NAME}`;
}

export interface StartClusterOptions {
  /** Default 3. */
  nodes?: number;
  /** Default 1. */
  gateways?: number;
  /** Default ./.shoal */
  dir?: string;
  /** Port base; default 7400. Gateway 1 listens on it, everything else above it. */
  port?: number;
  /** Path of shoal.config.ts; default ./shoal.config.ts, else (in a checkout) the bundled example application. */
  config?: string;
  onProgress?: (event: ClusterEvent) => void;
  /** How long a process may take to become ready; default 60 s. */
  readyTimeoutMs?: number;
  /** How long a process may drain after SIGTERM before SIGKILL; default 30 s (a node moves its data away first). */
  stopGraceMs?: number;
  /** Zones the nodes are spread over round-robin (node-1 in the first, …); none by default. */
  zones?: readonly string[];
  /**
   * Where control listens, and so the host in every process's control URL; default 127.0.0.1.
   * Processes in other network namespaces need an address they can reach, e.g. a bridge's.
   */
  controlHost?: string;
  /** Where node `index` (1-based) listens and what it advertises to its peers; default 127.0.0.1. */
  nodeHost?: (index: number) => string;
  /**
   * A command each process starts under, by id (`control`, `node-2`, `gateway-1`), e.g.
   * `['ip', 'netns', 'exec', NS]` for a network namespace; it must exec the process in place.
   */
  spawnPrefix?: (id: string) => readonly string[];
}

export interface ClusterHandle {
  readonly gatewayUrl: string;
  readonly dashboardUrl: string;
  /** The dashboard URL that logs its opener in; it carries the admin token. */
  readonly dashboardLoginUrl: string;
  /** What the admin API, the dashboard and built-in services through the gateway require. */
  readonly adminToken: string;
  readonly controlUrl: string;
  readonly adminUrl: string;
  readonly dir: string;
  /** Every process with a live /healthz probe. */
  status(): Promise<ClusterStatus>;
  /** Resolves once there are `nodes` nodes: new ones ready, removed ones drained and gone. */
  scale(nodes: number): Promise<void>;
  /** Stops gateways, then nodes, then control; resolves once every process is gone. */
  stop(): Promise<void>;
  /** Settles once the cluster has stopped, including through the admin API. */
  readonly done: Promise<void>;
  /** SIGKILL to every process, for when waiting for a graceful stop is no longer wanted. */
  kill(): void;
}

function configOrThrow(): string {
  const found = findDefaultConfig();
  if (found === undefined) throw new Error(noConfigMessage());
  return found;
}

/**
 * Starts a cluster and resolves once every process is ready. The processes are separate OS
 * processes; this process supervises them and must stay alive while the cluster runs.
 */
export async function startCluster(options: StartClusterOptions = {}): Promise<ClusterHandle> {
  const supervisor = new Supervisor({
    nodes: options.nodes ?? 3,
    gateways: options.gateways ?? 1,
    dir: options.dir ?? './.shoal',
    port: options.port ?? 7400,
    config: options.config ?? configOrThrow(),
    entry: cliEntryPath,
    onProgress: options.onProgress,
    readyTimeoutMs: options.readyTimeoutMs,
    stopGraceMs: options.stopGraceMs,
    zones: options.zones,
    controlHost: options.controlHost,
    nodeHost: options.nodeHost,
    spawnPrefix: options.spawnPrefix,
  });
  await supervisor.start();
  return {
    gatewayUrl: supervisor.gatewayUrl,
    dashboardUrl: supervisor.dashboardUrl,
    dashboardLoginUrl: supervisor.dashboardLoginUrl,
    adminToken: supervisor.adminToken,
    controlUrl: supervisor.controlUrl,
    adminUrl: supervisor.adminUrl,
    dir: supervisor.dir,
    status: () => supervisor.status(),
    scale: (nodes) => supervisor.scale(nodes),
    stop: () => supervisor.stop(),
    done: supervisor.done,
    kill: () => supervisor.killAll(),
  };
}
