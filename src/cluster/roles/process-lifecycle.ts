import type { Logger } from '../../core/index.ts';

/**
 * Every role process ends the same way: on SIGTERM or SIGINT, or when the supervisor that
 * started it is gone (its IPC channel closes), it drains and exits. A second signal exits at once.
 */
export function exitOnShutdown(logger: Logger, shutdown: (how: { decommission: boolean }) => Promise<void>): void {
  let stopping = false;
  // Set when the supervisor removes this process for good (scale down), as opposed to
  // stopping the whole cluster: only then does a node hand its data to the others.
  let decommission = false;
  process.on('message', (message: unknown) => {
    if ((message as { type?: unknown } | null)?.type === 'decommission') decommission = true;
  });
  const stop = (reason: string) => {
    if (stopping) {
      process.exit(1);
    }
    stopping = true;
    logger.info({ reason }, 'shutting down');
    // Past the data drain (20 s by default) and short of the supervisor's 30 s grace.
    const force = setTimeout(() => process.exit(1), 28_000);
    force.unref();
    shutdown({ decommission })
      .then(() => process.exit(0))
      .catch((err: unknown) => {
        logger.error({ err: String(err) }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('disconnect', () => stop('supervisor gone'));
  // A bug in one handler must not take the whole node down with every other caller's work.
  process.on('uncaughtException', (err) => logger.error({ err: err.message, stack: err.stack }, 'uncaught exception'));
  process.on('unhandledRejection', (err) => logger.error({ err: String(err) }, 'unhandled rejection'));
}

/** Tells the supervisor this process is ready to serve. */
export function signalReady(details: Record<string, unknown>): void {
  process.send?.({ type: 'ready', ...details });
}

export function requireSecret(): string {
  const secret = process.env.SHOAL_SECRET;
  if (!secret) throw new Error('SHOAL_SECRET is not set: the cluster secret is required');
  return secret;
}
