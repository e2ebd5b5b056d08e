import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Coordinator } from '../control/index.ts';
import { ClusterView } from './cluster-view.ts';
import { dashboardHtml } from './page.ts';

export { ClusterView, type MemberView } from './cluster-view.ts';

export interface Dashboard {
  /** Answers the dashboard's routes; false for any other request. */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  close(): void;
}

/** The cluster dashboard: who is in the cluster, their health and services, refreshed live. */
export function createDashboard(coordinator: Coordinator): Dashboard {
  const view = new ClusterView(coordinator);
  return {
    handle(req, res) {
      if (req.method !== 'GET') return false;
      if (req.url === '/' || req.url === '/dashboard') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(dashboardHtml);
        return true;
      }
      if (req.url === '/dashboard/cluster.json') {
        const body = JSON.stringify({ members: view.snapshot() });
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
        res.end(body);
        return true;
      }
      return false;
    },
    close: () => view.close(),
  };
}
