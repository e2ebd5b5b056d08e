import { access, readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { startAdminServer, type AdminServer } from './admin-server.ts';
import { clusterDir, ensureClusterDir, type ClusterDir } from './cluster-dir.ts';
import { probeHealth } from './health.ts';
import { MAX_GATEWAYS, MAX_NODES, portPlan, type PortPlan } from './ports.ts';
import { loadOrCreateAdminToken, loadOrCreateSecret } from './secret.ts';
import type { Coordinator } from '../control/index.ts';
import { ADMIN_TOKEN_ENV } from '../core/index.ts';
import { connectCoordinator } from './connect.ts';
import { rebalanceStatus } from '../data/index.ts';
import { isPidAlive, readState, removeState, writeState } from './state-file.ts';
import { SupervisedProcess, type ProcessSnapshot, type ProcessSpec } from './supervised-process.ts';
import type { ClusterEvent, ClusterState, ClusterStatus, ProcessStatus } from './types.ts';
import { checkZoneName, zoneOfNode } from './zones.ts';

/** Every process's address unless the options place it elsewhere; the admin API's always. */
const HOST = '127.0.0.1';

export interface SupervisorOptions {
  nodes: number;
  gateways: number;
  dir: string;
  /** Port base: see ports.ts. */
  port: number;
  /** Path of the application's shoal.config.ts. */
  config: string;
  /** The CLI entry children run as `node ENTRY _run ROLE …`. */
  entry: string;
  onProgress?: (event: ClusterEvent) => void;
  readyTimeoutMs?: number;
  stopGraceMs?: number;
  /**
   * The address control listens on, and so the host of the control URL every process is
   * given (default 127.0.0.1). Nodes in other network namespaces need one they can reach.
   */
  controlHost?: string;
  /** The address node `index` (1-based) listens on and advertises to its peers (default 127.0.0.1). */
  nodeHost?: (index: number) => string;
  /**
   * A command to start a process under, by process id (`node-2`, `gateway-1`, `control`):
   * `['ip', 'netns', 'exec', NS]` runs it in a network namespace. It must exec the node
   * process in place (see SupervisedProcess). None by default.
   */
  spawnPrefix?: (id: string) => readonly string[];
  /** Zones the nodes are spread over round-robin: node-1 in the first, node-2 in the second, … */
  zones?: readonly string[];
}

/**
 * Runs a local cluster: control, then nodes, then gateways, each started only after the one
 * before it is ready; restarts any that die; stops them in the reverse order so gateways stop
 * taking traffic before the nodes behind them drain.
 */
export class Supervisor {
  readonly #options: SupervisorOptions;
  readonly #ports: PortPlan;
  readonly #layout: ClusterDir;
  readonly #config: string;
  #state: ClusterState = 'starting';
  #secret = '';
  #adminToken = '';
  #coordinator: Coordinator | undefined;
  #admin: AdminServer | undefined;
  #control: SupervisedProcess | undefined;
  readonly #nodes = new Map<number, SupervisedProcess>();
  readonly #gateways: SupervisedProcess[] = [];
  #scaling: Promise<void> = Promise.resolve();
  #stopping: Promise<void> | undefined;
  readonly #done: Promise<void>;
  #resolveDone!: () => void;

  constructor(options: SupervisorOptions) {
    if (!Number.isInteger(options.nodes) || options.nodes < 1 || options.nodes > MAX_NODES) {
      throw new RangeError(`nodes must be an integer from 1 to ${MAX_NODES}, got ${options.nodes}`);
    }
    if (!Number.isInteger(options.gateways) || options.gateways < 1 || options.gateways > MAX_GATEWAYS) {
      throw new RangeError(`gateways must be an integer from 1 to ${MAX_GATEWAYS}, got ${options.gateways}`);
    }
    for (const zone of options.zones ?? []) checkZoneName(zone);
    this.#options = options;
    this.#ports = portPlan(options.port);
    this.#layout = clusterDir(options.dir);
    this.#config = resolve(options.config);
    this.#done = new Promise((done) => (this.#resolveDone = done));
  }

  get dir(): string {
    return this.#layout.root;
  }
  get controlUrl(): string {
    return httpUrl(this.#controlHost, this.#ports.control);
  }
  get #controlHost(): string {
    return this.#options.controlHost ?? HOST;
  }
  get gatewayUrl(): string {
    return `http://${HOST}:${this.#ports.gateway(1)}`;
  }
  get dashboardUrl(): string {
    return `${this.controlUrl}/`;
  }
  /** The dashboard URL that logs its opener in (it carries the admin token: show it only to the operator). */
  get dashboardLoginUrl(): string {
    return dashboardLoginUrl(this.dashboardUrl, this.#adminToken);
  }
  /** The token the admin API, the dashboard and built-in services through the gateway require. */
  get adminToken(): string {
    return this.#adminToken;
  }
  get adminUrl(): string {
    return `http://${HOST}:${this.#ports.admin}`;
  }
  /** Settles once the cluster has stopped, whoever asked it to. */
  get done(): Promise<void> {
    return this.#done;
  }

  async start(): Promise<void> {
    try {
      await access(this.#config);
    } catch {
      throw new Error(`config file not found: ${this.#config}`);
    }
    await ensureClusterDir(this.#layout);
    await this.#refuseIfRunning();
    this.#secret = await loadOrCreateSecret(this.#layout.secret);
    this.#adminToken = await loadOrCreateAdminToken(this.#layout.adminToken);
    this.#admin = await startAdminServer(HOST, this.#ports.admin, {
      adminToken: this.#adminToken,
      status: () => this.status(),
      scale: (nodes) => this.scale(nodes),
      stop: () => void this.stop(),
      maxNodes: MAX_NODES,
    });
    try {
      await writeState(this.#layout.stateFile, {
        pid: process.pid,
        port: this.#ports.base,
        dir: this.#layout.root,
        gatewayUrl: this.gatewayUrl,
        dashboardUrl: this.dashboardUrl,
        controlUrl: this.controlUrl,
        adminUrl: this.adminUrl,
        startedAt: new Date().toISOString(),
      });
      this.#control = this.#process(this.#controlSpec());
      await this.#startOne(this.#control);
      for (let i = 1; i <= this.#options.nodes; i++) {
        const node = this.#process(this.#nodeSpec(i));
        this.#nodes.set(i, node);
        await this.#startOne(node);
      }
      for (let g = 1; g <= this.#options.gateways; g++) {
        const gateway = this.#process(this.#gatewaySpec(g));
        this.#gateways.push(gateway);
        await this.#startOne(gateway);
      }
    } catch (err) {
      await this.stop();
      throw err;
    }
    if (this.#state === 'starting') this.#state = 'running';
  }

  async status(): Promise<ClusterStatus> {
    const all = [this.#control, ...[...this.#nodes.entries()].sort(([a], [b]) => a - b).map(([, node]) => node), ...this.#gateways];
    const [processes, rebalance] = await Promise.all([
      Promise.all(all.filter((p): p is SupervisedProcess => p !== undefined).map((p) => describe(p))),
      this.#rebalanceProgress(),
    ]);
    return { state: this.#state, supervisorPid: process.pid, gateway: this.gatewayUrl, dashboard: this.dashboardUrl, processes, rebalance };
  }

  /** The data rebalancer's progress from the coordinator; null when none is known or control is down. */
  async #rebalanceProgress(): Promise<ClusterStatus['rebalance']> {
    if (!this.#secret) return null;
    this.#coordinator ??= connectCoordinator({ controlUrl: this.controlUrl, secret: this.#secret, coordinatorTimeoutMs: 1_000 });
    try {
      const { progress } = await rebalanceStatus(this.#coordinator);
      return (progress as ClusterStatus['rebalance']) ?? null;
    } catch {
      return null;
    }
  }

  /** Starts or drains nodes until there are `count`; calls are queued so two scales never interleave. */
  scale(count: number): Promise<void> {
    if (!Number.isInteger(count) || count < 1 || count > MAX_NODES) {
      return Promise.reject(new RangeError(`nodes must be an integer from 1 to ${MAX_NODES}, got ${count}`));
    }
    const run = this.#scaling.then(() => this.#scaleTo(count));
    this.#scaling = run.catch(() => undefined);
    return run;
  }

  async #scaleTo(count: number): Promise<void> {
    if (this.#state !== 'running') throw new Error(`cannot scale a cluster that is ${this.#state}`);
    while (this.#nodes.size < count && this.#state === 'running') {
      let index = 1;
      while (this.#nodes.has(index)) index++;
      const node = this.#process(this.#nodeSpec(index));
      this.#nodes.set(index, node);
      try {
        await this.#startOne(node);
      } catch (err) {
        await node.stop();
        this.#nodes.delete(index);
        throw err;
      }
    }
    while (this.#nodes.size > count && this.#state === 'running') {
      // The newest nodes go first: the original ones keep their ids and most of the data.
      const index = Math.max(...this.#nodes.keys());
      await this.#nodes.get(index)?.stop({ decommission: true });
      this.#nodes.delete(index);
    }
  }

  /** Stops gateways, then nodes, then control; idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    this.#state = 'stopping';
    try {
      await Promise.all(this.#gateways.map((g) => g.stop()));
      await Promise.all([...this.#nodes.values()].map((n) => n.stop()));
      await this.#control?.stop();
    } finally {
      this.#state = 'stopped';
      await this.#admin?.close();
      await removeState(this.#layout.stateFile, process.pid).catch(() => undefined);
      this.#resolveDone();
    }
  }

  /** Sends SIGKILL to every process at once, for a second Ctrl-C. */
  killAll(): void {
    for (const p of [...this.#gateways, ...this.#nodes.values(), this.#control]) p?.kill();
  }

  async #refuseIfRunning(): Promise<void> {
    const existing = await readState(this.#layout.stateFile);
    if (!existing || !isPidAlive(existing.pid)) return;
    // A live pid alone may be a recycled one; a supervisor also answers on its admin API.
    const answer = await probeHealth(existing.adminUrl, 1000);
    if (answer.health === 'down') return;
    throw new Error(
      `a cluster is already running in ${this.#layout.root} (supervisor pid ${existing.pid}, gateway ${existing.gatewayUrl}); ` +
        `stop it with: shoal down --dir ${this.#layout.root}`,
    );
  }

  async #startOne(p: SupervisedProcess): Promise<void> {
    if (this.#state !== 'starting' && this.#state !== 'running') throw new Error(`cluster is ${this.#state}`);
    try {
      await p.start();
    } catch (err) {
      const tail = await logTail(this.#layout.logFile(p.id), 15);
      const message = err instanceof Error ? err.message : String(err);
      // The process's own reason, when it wrote one, goes first: "node-1: service x@1 failed to start: …".
      const reason = /^start failed: (.+)$/m.exec(tail)?.[1];
      throw new Error(`${reason ? `${p.id}: ${reason} (${message})` : message}; see ${this.#layout.logFile(p.id)}${tail ? `:\n${tail}` : ''}`, { cause: err });
    }
  }

  #process(spec: ProcessSpec): SupervisedProcess {
    const env: NodeJS.ProcessEnv = { ...process.env, SHOAL_SECRET: this.#secret, [ADMIN_TOKEN_ENV]: this.#adminToken };
    // A test runner's marker would make a child believe it is itself a test file.
    delete env.NODE_TEST_CONTEXT;
    // Meant for a process started by hand: the supervisor passes --host and --zone itself, and
    // one zone in its own environment must not put every node in it.
    delete env.SHOAL_HOST;
    delete env.SHOAL_ZONE;
    const prefix = this.#options.spawnPrefix?.(spec.id);
    return new SupervisedProcess({
      spec,
      entry: this.#options.entry,
      ...(prefix && prefix.length > 0 ? { prefix } : {}),
      env,
      cwd: process.cwd(),
      logFile: this.#layout.logFile(spec.id),
      onEvent: (event) => this.#options.onProgress?.(event),
      readyTimeoutMs: this.#options.readyTimeoutMs ?? 60_000,
      stopGraceMs: this.#options.stopGraceMs ?? 30_000,
    });
  }

  #controlSpec(): ProcessSpec {
    const port = this.#ports.control;
    const host = this.#controlHost;
    return {
      id: 'control',
      role: 'control',
      args: ['--id', 'control', '--dir', this.#layout.root, '--host', host, '--port', String(port)],
      address: hostPort(host, port),
      url: httpUrl(host, port),
    };
  }

  #nodeSpec(index: number): ProcessSpec {
    const id = `node-${index}`;
    const transport = this.#ports.nodeTransport(index);
    const http = this.#ports.nodeHttp(index);
    const host = this.#options.nodeHost?.(index) ?? HOST;
    const zone = zoneOfNode(index, this.#options.zones ?? []);
    return {
      id,
      role: 'node',
      args: [
        '--id', id,
        '--dir', this.#layout.root,
        '--host', host,
        '--control', this.controlUrl,
        '--transport-port', String(transport),
        '--http-port', String(http),
        '--config', this.#config,
        ...(zone !== undefined ? ['--zone', zone] : []),
      ],
      address: hostPort(host, transport),
      url: httpUrl(host, http),
      ...(zone !== undefined ? { zone } : {}),
    };
  }

  #gatewaySpec(index: number): ProcessSpec {
    const id = `gateway-${index}`;
    const port = this.#ports.gateway(index);
    return {
      id,
      role: 'gateway',
      args: ['--id', id, '--dir', this.#layout.root, '--host', HOST, '--control', this.controlUrl, '--port', String(port), '--config', this.#config],
      address: hostPort(HOST, port),
      url: httpUrl(HOST, port),
    };
  }
}

function describe(p: SupervisedProcess): Promise<ProcessStatus> {
  return describeProcess(p.id, p.spec, p.snapshot(), (url) => probeHealth(url, 1000));
}

/**
 * A process's line in the status. A replacement still starting is not serving: it stays down
 * until it has said it is ready, whatever its /healthz already answers.
 */
export async function describeProcess(
  id: string,
  spec: Pick<ProcessSpec, 'role' | 'address' | 'url' | 'zone'>,
  snapshot: ProcessSnapshot,
  probe: (url: string) => Promise<{ health: string; services: string[] }>,
): Promise<ProcessStatus> {
  const { pid, ready, restarts, startedAt } = snapshot;
  const answer = pid === null || !ready ? { health: 'down', services: [] } : await probe(spec.url);
  return {
    id,
    role: spec.role,
    ...(spec.zone !== undefined ? { zone: spec.zone } : {}),
    pid,
    address: spec.address,
    url: spec.url,
    health: answer.health,
    services: answer.services,
    restarts,
    startedAt,
  };
}

/** host:port, with an IPv6 host in brackets. */
function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function httpUrl(host: string, port: number): string {
  return `http://${hostPort(host, port)}`;
}

async function logTail(path: string, lines: number): Promise<string> {
  try {
    const text = await readFile(path, 'utf8');
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** A dashboard URL with the admin token as a one-time login parameter (the dashboard trades it for a cookie). */
export function dashboardLoginUrl(dashboardUrl: string, adminToken: string): string {
  return `${dashboardUrl}?token=${encodeURIComponent(adminToken)}`;
}
