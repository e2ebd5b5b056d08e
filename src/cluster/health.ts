/** What a process says about itself on GET /healthz. */
export interface HealthAnswer {
  health: string;
  services: string[];
}

const DOWN: HealthAnswer = { health: 'down', services: [] };

/** Services may be listed as "name@version" strings or as { name, version } objects. */
function serviceNames(value: unknown): string[] {
  if (!Array.isArray(value)) return [];
  const names: string[] = [];
  for (const entry of value) {
    if (typeof entry === 'string') names.push(entry);
    else if (entry && typeof entry === 'object') {
      const { name, version } = entry as { name?: unknown; version?: unknown };
      if (typeof name === 'string') names.push(version === undefined ? name : `${name}@${String(version)}`);
    }
  }
  return names;
}

/**
 * Asks a process for its health. Anything but a timely JSON answer counts as "down": a process
 * that cannot answer within the timeout cannot serve traffic either.
 */
export async function probeHealth(baseUrl: string, timeoutMs = 1000): Promise<HealthAnswer> {
  try {
    const response = await fetch(`${baseUrl}/healthz`, { signal: AbortSignal.timeout(timeoutMs) });
    const text = await response.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return response.ok ? { health: 'healthy', services: [] } : { health: 'unhealthy', services: [] };
    }
    const record = (body && typeof body === 'object' ? body : {}) as { status?: unknown; services?: unknown };
    const health = typeof record.status === 'string' ? record.status : response.ok ? 'healthy' : 'unhealthy';
    return { health, services: serviceNames(record.services) };
  } catch {
    return DOWN;
  }
}

/** Healthz states that mean a process is ready for traffic. */
export function isReadyHealth(health: string): boolean {
  return health === 'healthy' || health === 'ok' || health === 'ready';
}
