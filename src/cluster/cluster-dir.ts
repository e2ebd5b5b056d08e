import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';

/** Where a cluster keeps its files inside its directory. */
export interface ClusterDir {
  root: string;
  logs: string;
  data: string;
  secret: string;
  /** The admin token (0600), unless SHOAL_ADMIN_TOKEN gives one. */
  adminToken: string;
  stateFile: string;
  logFile(id: string): string;
}

export function clusterDir(dir: string): ClusterDir {
  const root = resolve(dir);
  return {
    root,
    logs: join(root, 'logs'),
    data: join(root, 'data'),
    secret: join(root, 'secret'),
    adminToken: join(root, 'admin-token'),
    stateFile: join(root, 'supervisor.json'),
    logFile: (id) => join(root, 'logs', `${id}.log`),
  };
}

export async function ensureClusterDir(layout: ClusterDir): Promise<void> {
  await mkdir(layout.logs, { recursive: true });
  await mkdir(layout.data, { recursive: true });
}
