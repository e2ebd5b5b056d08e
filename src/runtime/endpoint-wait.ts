import type { ServiceCatalog } from './facade.ts';

const POLL_MS = 20;

/**
 * Resolves true once `service@version` has an endpoint (on `node`, when given) in the catalog,
 * false after `timeoutMs`. A member that has just joined learns the others by watch, so right
 * after start every service looks absent for a moment.
 */
export async function waitForEndpoint(catalog: ServiceCatalog, service: string, version: number, options: { node?: string; timeoutMs: number }): Promise<boolean> {
  const until = Date.now() + options.timeoutMs;
  const present = () => catalog.endpoints(service, version).some((e) => options.node === undefined || e.id === options.node);
  while (!present()) {
    if (Date.now() >= until) return false;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  return true;
}
