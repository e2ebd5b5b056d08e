import type { ShardReplication } from '../data/index.ts';
import { readFile } from 'node:fs/promises';
import { clusterDir, isPidAlive, portPlan, readAdminToken, readState, type ClusterStatus } from '../cluster/index.ts';
import { CliError } from './args.ts';

/** How the CLI reaches a running cluster. */
export interface ClusterLocation {
  dir: string;
  adminUrl: string;
  gatewayUrl: string;
  /** The supervisor's pid when its state file names it. */
  pid?: number;
  /** The cluster's admin token (SHOAL_ADMIN_TOKEN, else the directory's admin-token file), if this user can read it. */
  adminToken?: string;
}

/** Headers that present the admin token, when there is one. */
export function adminHeaders(location: Pick<ClusterLocation, 'adminToken'>): Record<string, string> {
  return location.adminToken ? { authorization: `Bearer ${location.adminToken}` } : {};
}

/**
 * The cluster running in `dir` (from its supervisor.json), or, when the directory holds none and
 * a port was given explicitly, whatever supervisor answers at that port base.
 */
export async function findCluster(dir: string, explicitPort: number | undefined): Promise<ClusterLocation | undefined> {
  const layout = clusterDir(dir);
  const state = await readState(layout.stateFile);
  const adminToken = await readAdminToken(layout.adminToken);
  if (state && isPidAlive(state.pid)) {
    return { dir: layout.root, adminUrl: state.adminUrl, gatewayUrl: state.gatewayUrl, pid: state.pid, adminToken };
  }
  if (explicitPort !== undefined) {
    const plan = portPlan(explicitPort);
    const location = { dir: layout.root, adminUrl: `http://127.0.0.1:${plan.admin}`, gatewayUrl: `http://127.0.0.1:${plan.gateway(1)}`, adminToken };
    if (await adminAnswers(location.adminUrl)) return location;
  }
  return undefined;
}

export async function requireCluster(dir: string, explicitPort: number | undefined): Promise<ClusterLocation> {
  const location = await findCluster(dir, explicitPort);
  if (!location) {
    throw new CliError(`no cluster is running in ${clusterDir(dir).root} (start one with: shoal up --dir ${dir})`);
  }
  return location;
}

export async function adminAnswers(adminUrl: string): Promise<boolean> {
  try {
    const response = await fetch(`${adminUrl}/healthz`, { signal: AbortSignal.timeout(1000) });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}

/** A request to the supervisor's admin API; its error answers become CliErrors. */
export async function adminRequest(location: ClusterLocation, method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(`${location.adminUrl}${path}`, {
      method,
      headers: { ...adminHeaders(location), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    const reason = err instanceof Error && err.cause instanceof Error ? err.cause.message : String(err);
    throw new CliError(`cannot reach the supervisor of ${location.dir} at ${location.adminUrl}: ${reason}`);
  }
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new CliError(`the supervisor answered ${response.status} with a body that is not JSON: ${text.slice(0, 200)}`);
  }
  if (!response.ok) {
    const message = (parsed as { error?: { message?: unknown } }).error?.message;
    throw new CliError(`the supervisor refused: ${typeof message === 'string' ? message : text}`);
  }
  return parsed;
}

export async function fetchStatus(location: ClusterLocation): Promise<ClusterStatus> {
  return (await adminRequest(location, 'GET', '/status')) as ClusterStatus;
}

/** Each shard's replication through the gateway's `$data.map`; null when the cluster stores no data or cannot answer. */
export async function fetchShards(location: ClusterLocation, gatewayUrl: string): Promise<{ shards: ShardReplication[]; unreachable: string[] } | null> {
  try {
    const response = await fetch(`${gatewayUrl}/api/v1/%24data/map`, { method: 'POST', headers: { 'content-type': 'application/json', ...adminHeaders(location) }, body: '{}', signal: AbortSignal.timeout(10_000) });
    if (!response.ok) return null;
    const body = (await response.json()) as { shards?: ShardReplication[]; unreachable?: string[] };
    return Array.isArray(body.shards) ? { shards: body.shards, unreachable: body.unreachable ?? [] } : null;
  } catch {
    return null;
  }
}

/** The control plane of the cluster in DIR, or the one `control` names (its secret from SHOAL_SECRET). */
export async function locateControl(dir: string, control?: string): Promise<{ controlUrl: string; secret: string }> {
  if (control !== undefined) {
    const secret = process.env.SHOAL_SECRET;
    if (!secret) throw new CliError('--control needs the cluster secret in SHOAL_SECRET');
    return { controlUrl: control, secret };
  }
  const layout = clusterDir(dir);
  const state = await readState(layout.stateFile);
  if (!state || !isPidAlive(state.pid)) throw new CliError(`no cluster is running in ${layout.root} (start one with: shoal up --dir ${dir})`);
  return { controlUrl: state.controlUrl, secret: (await readFile(layout.secret, 'utf8')).trim() };
}
