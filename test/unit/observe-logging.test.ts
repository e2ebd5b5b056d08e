import assert from 'node:assert/strict';
import { test } from 'node:test';
import { composeChain, defineService, ShoalError } from '../../src/core/index.ts';
import type { EventMessage, InboundCall, Logger } from '../../src/core/index.ts';
import { createLogger, loggingPlugin } from '../../src/observe/index.ts';
import type { LoggerOptions } from '../../src/observe/index.ts';

const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
const traceparent = `00-${traceId}-00f067aa0ba902b7-01`;

function capture(level: LoggerOptions['level'] = 'debug'): { logger: Logger; lines: () => Array<Record<string, unknown>> } {
  const written: string[] = [];
  // Typed as core's Logger: the pino logger must fit the interface every layer writes to.
  const logger: Logger = createLogger({ nodeId: 'node-7', role: 'node', level, destination: { write: (line: string) => void written.push(line) } });
  return { logger, lines: () => written.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

function inbound(action: string): InboundCall {
  return { service: 'links', version: 2, action, params: {}, meta: { requestId: 'req-1', traceparent } };
}

test('createLogger writes JSON lines with node, role and pid', () => {
  const { logger, lines } = capture('info');
  logger.info({ extra: 1 }, 'hello');
  logger.child({ service: 'links' }).warn({}, 'from child');
  logger.debug({}, 'hidden at info');
  const [first, second, ...rest] = lines();
  assert.deepEqual([first.msg, first.nodeId, first.role, first.pid, first.extra, first.level], ['hello', 'node-7', 'node', process.pid, 1, 'info']);
  assert.deepEqual([second.msg, second.service, second.nodeId, second.level], ['from child', 'links', 'node-7', 'warn']);
  assert.equal(rest.length, 0);
});

test('a failing inbound call is logged with service, action, traceId and code', async () => {
  const { logger, lines } = capture();
  const serve = composeChain<InboundCall, unknown>([loggingPlugin(logger).inboundCall!], async (call) => {
    if (call.action === 'missing') throw new ShoalError('NOT_FOUND', 'no such link');
    throw new Error('database exploded');
  });

  await assert.rejects(serve(inbound('missing')), /no such link/);
  await assert.rejects(serve(inbound('crash')), /database exploded/);

  const [notFound, crash] = lines();
  assert.equal(notFound.level, 'warn');
  assert.equal(notFound.service, 'links');
  assert.equal(notFound.version, 2);
  assert.equal(notFound.action, 'missing');
  assert.equal(notFound.traceId, traceId);
  assert.equal(notFound.code, 'NOT_FOUND');
  assert.equal(typeof notFound.durationMs, 'number');
  assert.equal(notFound.nodeId, 'node-7');

  assert.equal(crash.level, 'error');
  assert.equal(crash.code, 'INTERNAL');
  assert.equal(crash.action, 'crash');
  assert.equal(crash.err, 'database exploded');
});

test('successful calls log at debug, and not at all when debug is off', async () => {
  const verbose = capture('debug');
  const quiet = capture('info');
  for (const { logger } of [verbose, quiet]) {
    const serve = composeChain<InboundCall, unknown>([loggingPlugin(logger).inboundCall!], async () => 'ok');
    assert.equal(await serve(inbound('resolve')), 'ok');
  }
  const [line] = verbose.lines();
  assert.deepEqual([line.level, line.msg, line.action, line.traceId, line.code], ['debug', 'call served', 'resolve', traceId, undefined]);
  assert.equal(quiet.lines().length, 0);
});

test('event handler failures are logged like calls', async () => {
  const { logger, lines } = capture();
  const receive = composeChain<EventMessage, void>([loggingPlugin(logger).inboundEvent!], async () => {
    throw new ShoalError('CONFLICT', 'already counted');
  });
  const message: EventMessage = {
    event: 'link.clicked',
    payload: {},
    meta: { requestId: 'e1', traceparent },
    mode: 'emit',
    target: { service: 'stats', version: 1 },
  };
  await assert.rejects(receive(message), /already counted/);
  const [line] = lines();
  assert.deepEqual([line.level, line.event, line.service, line.traceId, line.code], ['warn', 'link.clicked', 'stats', traceId, 'CONFLICT']);
});

test('lifecycle hooks log node start with its services', async () => {
  const { logger, lines } = capture('info');
  const plugin = loggingPlugin(logger);
  const links = defineService({ name: 'links', version: 2, actions: {} });
  await plugin.nodeStarted?.({ nodeId: 'node-7', services: [links] });
  const [line] = lines();
  assert.equal(line.level, 'info');
  assert.equal(line.msg, 'node started');
  assert.deepEqual(line.services, ['links@2']);
});
