/**
 * The process logger: pino writing one JSON object per line, stamped with the node and role so
 * lines gathered centrally from many processes stay attributable.
 */
import { pino } from 'pino';
import type { DestinationStream, Level, Logger as PinoLogger } from 'pino';

export interface LoggerOptions {
  nodeId: string;
  /** Process role: control, node, gateway, … */
  role: string;
  /** Default 'info'. */
  level?: Level | 'silent';
  /** Where lines go; stdout when omitted. */
  destination?: DestinationStream;
}

export type ShoalLogger = PinoLogger;

export function createLogger(options: LoggerOptions): ShoalLogger {
  const config = {
    level: options.level ?? 'info',
    base: { nodeId: options.nodeId, role: options.role, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Level names rather than numbers: readable in a central log view without a lookup table.
    formatters: { level: (label: string) => ({ level: label }) },
  };
  return options.destination ? pino(config, options.destination) : pino(config);
}
