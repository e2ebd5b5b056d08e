import { hostname } from 'node:os';
import { pino } from 'pino';
import { createLogger, type ShoalLogger } from '../../observe/index.ts';

export interface LbLoggers {
  /** Operational messages (reloads, health changes, errors), on stderr. */
  logger: ShoalLogger;
  /** One JSON line per request, on stdout. */
  accessLog: ShoalLogger;
  /** Writes out buffered access log lines; call before the process exits. */
  flush(): void;
}

/**
 * Access log lines go out asynchronously so a request never waits on the terminal or a pipe;
 * operational messages are rare and go out synchronously so none is lost on a crash.
 */
export function createLbLoggers(role = 'lb'): LbLoggers {
  const nodeId = hostname();
  const accessStream = pino.destination({ dest: 1, sync: false });
  const logger = createLogger({ nodeId, role, destination: pino.destination({ dest: 2, sync: true }) });
  const accessLog = createLogger({ nodeId, role, destination: accessStream }).child({ log: 'access' });
  return {
    logger,
    accessLog,
    flush() {
      try {
        accessStream.flushSync();
      } catch {
        // Not yet open or already closed: nothing buffered to lose.
      }
    },
  };
}
