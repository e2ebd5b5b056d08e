import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Coordinator } from '../control/index.ts';
import { ADMIN_COOKIE, adminTokenMatches, hasAdminToken } from '../core/index.ts';
import { ClusterView } from './cluster-view.ts';
import { dashboardHtml } from './page.ts';

export { ClusterView, type MemberView } from './cluster-view.ts';

export interface Dashboard {
  /** Answers the dashboard's routes; false for any other request. */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  close(): void;
}

export interface DashboardOptions {
  /** The cluster's admin token: the dashboard shows nothing to a request without it. */
  adminToken: string;
}

const PAGES = new Set(['/', '/dashboard']);
const CLUSTER_JSON = '/dashboard/cluster.json';

const loginPage = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shoal cluster</title></head>
<body style="font: 14px/1.4 system-ui, sans-serif; margin: 2rem">
<h1 style="font-size: 1.3rem">Shoal cluster</h1>
<p>The dashboard needs the cluster's admin token. Open the dashboard URL that <code>shoal up</code> printed
(it logs you in), or add <code>?token=</code> with the contents of the cluster directory's <code>admin-token</code> file.</p>
</body></html>`;

function refuse(res: ServerResponse, pathname: string): void {
  if (pathname === CLUSTER_JSON) {
    const body = JSON.stringify({ error: { code: 'UNAUTHORIZED', message: "the dashboard needs the cluster's admin token" } });
    res.writeHead(401, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(body);
    return;
  }
  res.writeHead(401, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(loginPage);
}

/**
 * The cluster dashboard: who is in the cluster, their health and services, refreshed live.
 * Only the operator sees it: a request must present the admin token, as a bearer header or as
 * the cookie set when the one-click login URL (`/?token=…`) is opened.
 */
export function createDashboard(coordinator: Coordinator, options: DashboardOptions): Dashboard {
  const view = new ClusterView(coordinator);
  return {
    handle(req, res) {
      if (req.method !== 'GET') return false;
      let url: URL;
      try {
        url = new URL(req.url ?? '/', 'http://dashboard');
      } catch {
        return false;
      }
      const { pathname } = url;
      if (!PAGES.has(pathname) && pathname !== CLUSTER_JSON) return false;
      const offered = url.searchParams.get('token');
      if (offered !== null && PAGES.has(pathname)) {
        if (!adminTokenMatches(options.adminToken, offered)) {
          refuse(res, pathname);
          return true;
        }
        // Trade the token in the URL for a cookie and drop it from the address bar and history.
        res.writeHead(303, {
          location: pathname,
          'set-cookie': `${ADMIN_COOKIE}=${encodeURIComponent(options.adminToken)}; HttpOnly; SameSite=Strict; Path=/`,
          'cache-control': 'no-store',
        });
        res.end();
        return true;
      }
      if (!hasAdminToken(options.adminToken, req.headers)) {
        refuse(res, pathname);
        return true;
      }
      if (pathname === CLUSTER_JSON) {
        const body = JSON.stringify({ members: view.snapshot() });
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
        res.end(body);
        return true;
      }
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(dashboardHtml);
      return true;
    },
    close: () => view.close(),
  };
}
