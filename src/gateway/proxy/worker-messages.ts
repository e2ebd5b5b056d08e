import type { LbConfig } from './config-schema.ts';
import type { ListenerAddress } from './load-balancer.ts';

/** The environment variable carrying a worker's starting config, as JSON. */
export const WORKER_CONFIG_ENV = 'SHOAL_LB_WORKER_CONFIG';

/** Messages between the primary and its workers over the cluster IPC channel. */
export type PrimaryMessage = { type: 'shoal-lb:reload'; config: LbConfig };
export type WorkerMessage = { type: 'shoal-lb:listening'; addresses: ListenerAddress[] } | { type: 'shoal-lb:failed'; message: string };

export function isWorkerMessage(value: unknown): value is WorkerMessage {
  return typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string' && (value as { type: string }).type.startsWith('shoal-lb:');
}

export function isPrimaryMessage(value: unknown): value is PrimaryMessage {
  return typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'shoal-lb:reload';
}
