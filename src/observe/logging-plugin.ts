/**
 * Logs calls served and events handled by this process, and its lifecycle. Successes go at
 * debug (usually off in production), failures at warn, or at error when the failure is ours
 * (INTERNAL) rather than the caller's.
 */
import { concealedCause, errorIdOf, monotonicMs, toShoalError } from '../core/index.ts';
import type { AnyService, EventMessage, InboundCall, Logger, NodeInfo, Plugin } from '../core/index.ts';
import { traceIdOf } from './traceparent.ts';

interface LevelAware {
  isLevelEnabled(level: string): boolean;
}

function hasLevelCheck(logger: Logger): logger is Logger & LevelAware {
  return typeof (logger as Partial<LevelAware>).isLevelEnabled === 'function';
}

function serviceList(services: readonly AnyService[]): string[] {
  return services.map((service) => `${service.name}@${service.version}`);
}

function roundMs(start: number): number {
  return Math.round((performance.now() - start) * 1000) / 1000;
}

export function loggingPlugin(logger: Logger): Plugin {
  // Building the success record costs more than the call bookkeeping; skip it when debug is off.
  const debugEnabled = hasLevelCheck(logger) ? () => logger.isLevelEnabled('debug') : () => true;

  function logFailure(fields: Record<string, unknown>, err: unknown, msg: string): void {
    const error = toShoalError(err);
    fields.code = error.code;
    fields.err = error.message;
    const errorId = errorIdOf(error);
    if (errorId !== undefined) fields.errorId = errorId;
    // What the caller was not told: the original message and where it was thrown.
    const cause = concealedCause(error);
    if (cause) {
      fields.err = cause.message;
      if (cause.stack) fields.stack = cause.stack;
    }
    if (error.code === 'INTERNAL') logger.error(fields, msg);
    else logger.warn(fields, msg);
  }

  async function handleEvent(
    message: EventMessage,
    next: (message: EventMessage) => Promise<void>,
    direction: 'emit' | 'receive',
  ): Promise<void> {
    const start = performance.now();
    try {
      await next(message);
    } catch (err) {
      logFailure(eventFields(message, start), err, direction === 'emit' ? 'event emit failed' : 'event handler failed');
      throw err;
    }
    if (debugEnabled()) logger.debug(eventFields(message, start), direction === 'emit' ? 'event emitted' : 'event handled');
  }

  return {
    name: 'shoal:logging',

    // Not async: one .then() per call rather than an async frame and its promise.
    inboundCall(call, next) {
      // The burst's clock: a logged duration may include the work queued just before the call.
      const start = monotonicMs();
      const failed = (err: unknown): never => {
        logFailure(callFields(call, start), err, 'call failed');
        throw err;
      };
      let pending: Promise<unknown>;
      try {
        pending = next(call);
      } catch (err) {
        logFailure(callFields(call, start), err, 'call failed');
        return Promise.reject(err);
      }
      return pending.then((result) => {
        if (debugEnabled()) logger.debug(callFields(call, start), 'call served');
        return result;
      }, failed);
    },

    inboundEvent: (message, next) => handleEvent(message, next, 'receive'),
    outboundEvent: (message, next) => handleEvent(message, next, 'emit'),

    nodeStarting(info: NodeInfo) {
      logger.info({ node: info.nodeId, services: serviceList(info.services) }, 'node starting');
    },
    nodeStarted(info: NodeInfo) {
      logger.info({ node: info.nodeId, services: serviceList(info.services) }, 'node started');
    },
    nodeStopping(info: NodeInfo) {
      logger.info({ node: info.nodeId }, 'node stopping');
    },
    serviceStarted(service: AnyService) {
      logger.info({ service: service.name, version: service.version }, 'service started');
    },
  };
}

function callFields(call: InboundCall, start: number): Record<string, unknown> {
  return {
    service: call.service,
    version: call.version,
    action: call.action,
    traceId: traceIdOf(call.meta.traceparent),
    requestId: call.meta.requestId,
    durationMs: roundMs(start),
  };
}

function eventFields(message: EventMessage, start: number): Record<string, unknown> {
  const fields: Record<string, unknown> = {
    event: message.event,
    mode: message.mode,
    traceId: traceIdOf(message.meta.traceparent),
    durationMs: roundMs(start),
  };
  if (message.target) {
    fields.service = message.target.service;
    fields.version = message.target.version;
  }
  return fields;
}
