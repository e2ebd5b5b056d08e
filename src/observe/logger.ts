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

/**
 * A pino child whose own children merge their bindings with its bindings instead of appending
 * them: pino writes a key once per child that binds it, so a `component` bound by a layer and
 * again by the part below it would appear twice on one line (not valid for every JSON reader).
 */
function bindOnce(root: PinoLogger, bindings: Record<string, unknown>): PinoLogger {
  const logger = root.child(bindings);
  const child = (more: Record<string, unknown>) => bindOnce(root, { ...bindings, ...more });
  Object.defineProperty(logger, 'child', { value: child, writable: true, configurable: true });
  return logger;
}

const LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']);

/** SHOAL_LOG_LEVEL (trace, debug, info, warn, error, fatal, silent), else info. */
function levelFromEnv(): Level | 'silent' {
  const given = process.env.SHOAL_LOG_LEVEL?.trim().toLowerCase();
  if (given === undefined || given === '') return 'info';
  if (!LEVELS.has(given)) throw new Error(`SHOAL_LOG_LEVEL must be one of ${[...LEVELS].join(', ')}, got "${given}"`);
  return given as Level | 'silent';
}

export function createLogger(options: LoggerOptions): ShoalLogger {
  const config = {
    level: options.level ?? levelFromEnv(),
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Level names rather than numbers: readable in a central log view without a lookup table.
    formatters: { level: (label: string) => ({ level: label }) },
  };
  const root = options.destination ? pino(config, options.destination) : pino(config);
  return bindOnce(root, { nodeId: options.nodeId, role: options.role });
}
