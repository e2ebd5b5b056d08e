/** The embedded coordinator driver: a server the control process runs, and its client. */
export { startCoordinatorServer } from './server.ts';
export type { CoordinatorServer, CoordinatorServerOptions } from './server.ts';
export { createEmbeddedCoordinator } from './client.ts';
export type { EmbeddedCoordinatorOptions } from './client.ts';
