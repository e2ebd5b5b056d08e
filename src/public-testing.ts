/**
 * `shoal/testing`: an application's services in a real cluster, for its own tests. The cluster
 * runs the same processes `shoal up` runs (control, nodes, a gateway) on ports that are free
 * right now and in a directory of its own, removed again by `stop()`; calls go through the
 * gateway, so a test sees what a client sees.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { portPlan, startCluster, type ClusterHandle } from './cluster/index.ts';
import { errorFromWire, ShoalError, type ActionNames, type AnyService, type ParamsOf, type ResultOf } from './core/index.ts';

export interface TestClusterOptions {
  /** The application's shoal.config.ts: a path, or a URL such as `new URL('../shoal.config.ts', import.meta.url)`. */
  config: string | URL;
  /** Default 1. */
  nodes?: number;
  /** How long a process may take to become ready; default 60 s. */
  readyTimeoutMs?: number;
}

export interface TestCluster {
  readonly gatewayUrl: string;
  /** The cluster itself: status, scale, admin token. */
  readonly cluster: ClusterHandle;
  /**
   * Calls an action through the gateway, typed from the service definition. The result is the
   * handler's value as JSON carried it; an error answer is thrown as a ShoalError with its code.
   */
  call<S extends AnyService, A extends ActionNames<S>>(service: S, action: A, params: ParamsOf<S, A>): Promise<ResultOf<S, A>>;
  /** Stops every process and removes the cluster's directory. */
  stop(): Promise<void>;
}

// Below Linux's ephemeral range (32768+), where outgoing connections would take ports.
const PORT_FLOOR = 20000;
const PORT_SLOTS = 40;
const PORT_SLOT = 300;

function portFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer();
    server.once('error', () => done(false));
    server.listen(port, '127.0.0.1', () => server.close(() => done(true)));
  });
}

async function freePortBase(nodes: number): Promise<number> {
  for (let attempt = 0; attempt < 40; attempt++) {
    const plan = portPlan(PORT_FLOOR + Math.floor(Math.random() * PORT_SLOTS) * PORT_SLOT);
    const ports = [plan.gateway(1), plan.control, plan.admin];
    for (let i = 1; i <= nodes; i++) ports.push(plan.nodeTransport(i), plan.nodeHttp(i));
    if ((await Promise.all(ports.map(portFree))).every(Boolean)) return plan.base;
  }
  throw new Error('no free port base found for a test cluster');
}

async function callGateway(gatewayUrl: string, service: AnyService, action: string, params: unknown): Promise<unknown> {
  const url = `${gatewayUrl}/api/v${service.version}/${encodeURIComponent(service.name)}/${encodeURIComponent(action)}`;
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(params ?? {}) });
  const text = await response.text();
  let body: unknown;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    throw new ShoalError('BAD_GATEWAY', `${service.name}.${action}: the gateway answered ${response.status} with no JSON`, { body: text.slice(0, 200) });
  }
  if (response.ok) return body;
  throw errorFromWire((body as { error?: unknown } | undefined)?.error);
}

/** Starts a cluster running `options.config` and resolves once every process is ready. */
export async function startTestCluster(options: TestClusterOptions): Promise<TestCluster> {
  const nodes = options.nodes ?? 1;
  const config = options.config instanceof URL ? fileURLToPath(options.config) : options.config;
  const dir = await mkdtemp(join(tmpdir(), 'shoal-test-'));
  let cluster: ClusterHandle;
  try {
    cluster = await startCluster({
      config,
      nodes,
      dir,
      port: await freePortBase(nodes),
      ...(options.readyTimeoutMs !== undefined ? { readyTimeoutMs: options.readyTimeoutMs } : {}),
      stopGraceMs: 5_000,
    });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  let stopping: Promise<void> | undefined;
  return {
    gatewayUrl: cluster.gatewayUrl,
    cluster,
    call: async (service, action, params) => (await callGateway(cluster.gatewayUrl, service, action, params)) as never,
    stop() {
      stopping ??= cluster.stop().finally(() => rm(dir, { recursive: true, force: true }));
      return stopping;
    },
  };
}
